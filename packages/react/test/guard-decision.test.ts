/**
 * The guard's rules as a table (the component runs them on the client's snapshot; the APP-15
 * tests run them on a real client), `treatPendingAsSignedOut` for a session with a task, and
 * `safeReturnTo`.
 */
import { describe, expect, it } from 'vitest'
import { guardDecision, type GuardOptions } from '../src/components/guard-decision.js'
import { authState } from '../src/hooks/use-auth.js'
import { safeReturnTo } from '../src/index.js'
import type { GuardView } from '../src/provider/binding.js'

const loading: GuardView = {
  isLoaded: false,
  hasSession: false,
  user: null,
  sessionId: null,
  currentTask: null,
  signingIn: false,
  locked: false,
}
const signedOut: GuardView = { ...loading, isLoaded: true }
const user = { iss: 'https://auth.example.test', sub: 'usr_1', aud: 'web-app' }
const signedIn: GuardView = { ...signedOut, hasSession: true, user, sessionId: 'sid' }
const withTask: GuardView = { ...signedIn, currentTask: 'mfa_setup' }
const routes: GuardOptions = {
  signInRoute: '/sign-in',
  returnTo: '/orders?tab=open',
  taskRoutes: { mfa_setup: '/tasks/mfa' },
}

describe('guard decisions', () => {
  const rows: [string, GuardView, GuardOptions, ReturnType<typeof guardDecision>][] = [
    [
      'APP-15 loading: fallback, no redirect',
      loading,
      routes,
      { render: 'fallback', redirect: null },
    ],
    [
      'APP-15 loading, even with a sign-in under way: no redirect',
      { ...loading, signingIn: true },
      routes,
      { render: 'fallback', redirect: null },
    ],
    [
      'signed out: the sign-in route with returnTo',
      signedOut,
      routes,
      {
        render: 'fallback',
        redirect: { kind: 'route', to: '/sign-in?returnTo=%2Forders%3Ftab%3Dopen' },
      },
    ],
    [
      'signed out, a sign-in route with a query: returnTo appended with &',
      signedOut,
      { ...routes, signInRoute: '/auth?mode=in' },
      {
        render: 'fallback',
        redirect: { kind: 'route', to: '/auth?mode=in&returnTo=%2Forders%3Ftab%3Dopen' },
      },
    ],
    [
      'signed out, no returnTo: the bare sign-in route',
      signedOut,
      { signInRoute: '/sign-in' },
      { render: 'fallback', redirect: { kind: 'route', to: '/sign-in' } },
    ],
    [
      'signed out, no sign-in route: the hosted sign-in with returnTo',
      signedOut,
      { returnTo: '/orders' },
      { render: 'fallback', redirect: { kind: 'hosted-sign-in', returnTo: '/orders' } },
    ],
    [
      'a sign-in under way: fallback, no second redirect',
      { ...signedOut, signingIn: true },
      routes,
      { render: 'fallback', redirect: null },
    ],
    ['signed in: the children', signedIn, routes, { render: 'children', redirect: null }],
    [
      'locked by the idle timeout: the locked element, never the children',
      { ...signedIn, locked: true },
      routes,
      { render: 'locked', redirect: null },
    ],
    [
      'a task with a route: to that route',
      withTask,
      routes,
      { render: 'fallback', redirect: { kind: 'route', to: '/tasks/mfa' } },
    ],
    [
      'a task with a route, treatPendingAsSignedOut false: still to that route',
      withTask,
      { ...routes, treatPendingAsSignedOut: false },
      { render: 'fallback', redirect: { kind: 'route', to: '/tasks/mfa' } },
    ],
    [
      'a task without a route: the fallback, never the children, never sign-in',
      { ...withTask, currentTask: 'accept_terms' },
      routes,
      { render: 'fallback', redirect: null },
    ],
    [
      'a task without a route, treatPendingAsSignedOut false: the children',
      { ...withTask, currentTask: 'accept_terms' },
      { ...routes, treatPendingAsSignedOut: false },
      { render: 'children', redirect: null },
    ],
  ]
  for (const [name, view, options, expected] of rows) {
    it(name, () => {
      expect(guardDecision(view, options)).toEqual(expected)
    })
  }
})

describe('treatPendingAsSignedOut', () => {
  it('a session with a task is signed out by default and signed in with the option off; loading is undefined either way', () => {
    expect(authState(withTask, true)).toEqual({
      isLoaded: true,
      isSignedIn: false,
      isPending: true,
    })
    expect(authState(withTask, false)).toEqual({
      isLoaded: true,
      isSignedIn: true,
      isPending: false,
    })
    expect(authState(signedIn, true)).toEqual({
      isLoaded: true,
      isSignedIn: true,
      isPending: false,
    })
    expect(authState(signedOut, true)).toEqual({
      isLoaded: true,
      isSignedIn: false,
      isPending: false,
    })
    for (const t of [true, false]) {
      expect(authState(loading, t)).toEqual({
        isLoaded: false,
        isSignedIn: undefined,
        isPending: false,
      })
    }
  })
})

describe('safeReturnTo', () => {
  const rows: [string | null | undefined, string][] = [
    ['/orders?tab=open#x', '/orders?tab=open#x'],
    ['/', '/'],
    [null, '/home'],
    [undefined, '/home'],
    ['', '/home'],
    ['//evil.example/x', '/home'],
    ['/\\evil.example', '/home'],
    ['https://evil.example/', '/home'],
    ['javascript:alert(1)', '/home'],
    ['orders', '/home'],
    ['/\t/evil.example', '/home'],
    ['/ok\n', '/home'],
  ]
  for (const [input, expected] of rows) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      expect(safeReturnTo(input, '/home')).toBe(expected)
    })
  }
})
