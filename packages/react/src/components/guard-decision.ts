import type { GuardView } from '../provider/binding.js'

export interface GuardOptions {
  signInRoute?: string | undefined
  returnTo?: string | undefined
  taskRoutes?: Readonly<Record<string, string>> | undefined
  treatPendingAsSignedOut?: boolean | undefined
}

/** What the guard renders, and where it sends the user (after the render, in an effect). */
export type GuardDecision =
  | { render: 'fallback'; redirect: null }
  | { render: 'locked'; redirect: null }
  | { render: 'children'; redirect: null }
  | { render: 'fallback'; redirect: { kind: 'route'; to: string } }
  | { render: 'fallback'; redirect: { kind: 'hosted-sign-in'; returnTo: string | undefined } }

const FALLBACK = { render: 'fallback', redirect: null } as const

/**
 * The guard's rules, in order:
 * 1. not loaded: the fallback, no redirect (APP-15);
 * 2. locked by the idle timeout: the `locked` element, never the children;
 * 3. a session with a task: to `taskRoutes[task]`; a task with no route renders the fallback
 *    (or, with `treatPendingAsSignedOut: false`, the children);
 * 4. a session: the children;
 * 5. a sign-in under way (this tab started one): the fallback, no second redirect;
 * 6. signed out: to `signInRoute?returnTo=...`, or the hosted sign-in with `returnTo`.
 */
export function guardDecision(view: GuardView, o: GuardOptions): GuardDecision {
  if (!view.isLoaded) return FALLBACK
  if (view.hasSession) {
    if (view.locked) return { render: 'locked', redirect: null }
    if (view.currentTask !== null) {
      const to = o.taskRoutes?.[view.currentTask]
      if (to !== undefined) return { render: 'fallback', redirect: { kind: 'route', to } }
      if (o.treatPendingAsSignedOut ?? true) return FALLBACK
    }
    return { render: 'children', redirect: null }
  }
  if (view.signingIn) return FALLBACK
  if (o.signInRoute !== undefined) {
    const to =
      o.returnTo === undefined
        ? o.signInRoute
        : `${o.signInRoute}${o.signInRoute.includes('?') ? '&' : '?'}returnTo=${encodeURIComponent(o.returnTo)}`
    return { render: 'fallback', redirect: { kind: 'route', to } }
  }
  return { render: 'fallback', redirect: { kind: 'hosted-sign-in', returnTo: o.returnTo } }
}
