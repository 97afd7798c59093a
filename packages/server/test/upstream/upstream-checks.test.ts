import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PATHS } from '../../src/oauth/paths.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'
import {
  followUpstream,
  UPSTREAM_CLIENT_ID,
  UPSTREAM_CLIENT_SECRET,
  UpstreamIdp,
} from '../helpers/upstream-idp.js'

/**
 * Upstream sign-in over HTTP: the callback's checks of `state`, `nonce` and `iss`. Each refused
 * callback must leave no user, no link and no SSO session behind; a control run with nothing
 * tampered shows the same steps succeed.
 */

let idp: UpstreamIdp
let other: UpstreamIdp
let t: TestServer
let callback: string

beforeAll(async () => {
  idp = await new UpstreamIdp().listen()
  other = await new UpstreamIdp().listen()
  const provider = (id: string, issuer: string) => ({
    id,
    name: id,
    issuer,
    clientId: UPSTREAM_CLIENT_ID,
    clientSecret: UPSTREAM_CLIENT_SECRET,
    scopes: ['openid', 'email'],
  })
  t = await startTestServer({
    config: { upstream: [provider('acme', idp.issuer), provider('other', other.issuer)] },
  })
  callback = t.url + PATHS.loginUpstreamCallback
  await idp.serve(callback)
  await other.serve(callback)
  idp.accounts.set('carol', { email: 'carol@example.test', email_verified: true })
})
afterAll(async () => {
  await t?.close()
  await idp?.close()
  await other?.close()
})

function rows(): { users: number; links: number; sessions: number } {
  const db = new BetterSqlite3(t.dbFile, { readonly: true })
  try {
    const n = (table: string) =>
      (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n
    return { users: n('users'), links: n('upstream_links'), sessions: n('browser_sessions') }
  } finally {
    db.close()
  }
}

/** From /authorize to the provider's authorization URL, through the sign-in page's button. */
async function startUpstream(jar: CookieJar, provider = 'acme'): Promise<URL> {
  const { params } = authorizationParams({ state: 'app-state' })
  const res = await startAuthorize(t, params, jar)
  expect(isLoginRedirect(t, res)).toBe(true)
  const login = await openLogin(t, res, jar)
  const href = new RegExp(`href="([^"]*/login/upstream/${provider}\\?[^"]*)"`).exec(login.html)?.[1]
  expect(href).toBeDefined()
  const go = await browserFetch(jar, href!.replace(/&amp;/g, '&'))
  expect(go.status).toBe(303)
  return new URL(go.headers.get('location')!)
}

/** Follows the callback and expects a refusal page that changed nothing; returns the failure
 * event's detail (the error code openid-client gave). */
async function refused(jar: CookieJar, url: URL, page = 'Sign-in failed'): Promise<unknown> {
  const before = rows()
  const res = await browserFetch(jar, url.href)
  expect(res.status).toBe(400)
  expect(await res.text()).toContain(page)
  expect(res.headers.get('location')).toBeNull()
  expect(jar.get('tessera_sso')).toBeUndefined()
  expect(rows()).toEqual(before)
  const db = new BetterSqlite3(t.dbFile, { readonly: true })
  try {
    const e = db
      .prepare(
        `select data from security_events where type = 'sign_in_failure' order by at desc, rowid desc limit 1`,
      )
      .get() as { data: string } | undefined
    return e && (JSON.parse(e.data) as { detail?: unknown }).detail
  } finally {
    db.close()
  }
}

describe('upstream callback checks', () => {
  it('the redirect to the provider carries PKCE (S256), state and nonce, kept out of the URL of the sign-in page', async () => {
    const jar = new CookieJar()
    const url = await startUpstream(jar)
    expect(url.origin).toBe(idp.issuer)
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(url.searchParams.get('redirect_uri')).toBe(callback)
    expect(jar.get('tessera_upstream')).toBeDefined()
  })

  it('control: an untampered callback signs in and redirects to the client', async () => {
    const jar = new CookieJar()
    const back = await followUpstream((await startUpstream(jar)).href, 'carol', callback)
    expect(back.searchParams.get('iss')).toBe(idp.issuer)
    const res = await browserFetch(jar, back.href)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toMatch(new RegExp(`^${WEB_REDIRECT}\\?code=`))
    expect(jar.get('tessera_sso')).toBeDefined()
  })

  it('UP-03 a tampered state is refused', async () => {
    const jar = new CookieJar()
    const back = await followUpstream((await startUpstream(jar)).href, 'carol', callback)
    back.searchParams.set(
      'state',
      back.searchParams.get('state')!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')),
    )
    expect(await refused(jar, back)).toMatchObject({ message: expect.stringMatching(/"state"/) })
  })

  it('UP-03 a callback in a browser that did not start the flow is refused', async () => {
    const jar = new CookieJar()
    const back = await followUpstream((await startUpstream(jar)).href, 'carol', callback)
    await refused(new CookieJar(), back, 'Sign-in expired')
  })

  it('UP-04 an ID token with another nonce is refused', async () => {
    const jar = new CookieJar()
    const start = await startUpstream(jar)
    start.searchParams.set('nonce', 'n'.repeat(43))
    const back = await followUpstream(start.href, 'carol', callback)
    expect(await refused(jar, back)).toMatchObject({
      code: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED',
      message: expect.stringMatching(/"nonce"/),
    })
  })

  it('UP-05 a response naming another issuer (mix-up) is refused', async () => {
    const jar = new CookieJar()
    const back = await followUpstream((await startUpstream(jar)).href, 'carol', callback)
    back.searchParams.set('iss', other.issuer)
    expect(await refused(jar, back)).toMatchObject({ message: expect.stringMatching(/"iss"/) })
  })

  it('UP-05 a response without iss from a provider that sends it is refused', async () => {
    const jar = new CookieJar()
    const back = await followUpstream((await startUpstream(jar)).href, 'carol', callback)
    back.searchParams.delete('iss')
    expect(await refused(jar, back)).toMatchObject({ message: expect.stringMatching(/"iss"/) })
  })
})
