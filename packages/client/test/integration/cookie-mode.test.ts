/**
 * The client in cookie mode (`refreshTokenDelivery: 'cookie'`) against a real Tessera server whose
 * client keeps refresh tokens in an HttpOnly cookie. Requests go through BrowserFetch, which does
 * what a browser does for a page on APP (Origin, credentialed CORS, a cookie jar), so the client
 * never sees the refresh token and the server only accepts it from APP. The same guarantees as in
 * body mode are checked in the server's store: one refresh for many callers, rotation, the grace
 * window after a lost response, revocation at sign-out. Chromium runs the same with real cookies in
 * test/browser/cookie-mode.browser.test.ts.
 */
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../../server/test/helpers/oauth-flow.js'
import { memoryStorage, TesseraClientError, type TesseraStorage } from '../../src/index.js'
import { BrowserFetch } from '../helpers/browser-fetch.js'
import { ShiftedClock } from '../helpers/clocks.js'
import { CountingFetch } from '../helpers/counting-fetch.js'
import {
  API_A,
  clientFor,
  followSignIn,
  signIn,
  startTessera,
  storedSession,
  type Tessera,
} from '../helpers/tessera.js'

/** The app's origin: another port of the issuer's host, so same-site with it. */
const APP = 'http://127.0.0.1:3000'
const COOKIE = 'tessera_rt_web-app_'

let s: Tessera

beforeAll(async () => {
  s = await startTessera({ client: { refreshTokenDelivery: 'cookie', webOrigins: [APP] } })
})
afterAll(async () => {
  await s.close()
})

/** Storage that remembers every value ever written, to show none held a refresh token. */
function recordingStorage(): TesseraStorage & { written: string[] } {
  const inner = memoryStorage()
  const written: string[] = []
  return {
    written,
    get: (k) => inner.get(k),
    set(k, v) {
      written.push(v)
      return inner.set(k, v)
    },
    remove: (k) => inner.remove(k),
  }
}

/** A cookie-mode client on APP, with its browser (cookie jar) and counters. */
function cookieClient(
  o: {
    browser?: BrowserFetch
    clock?: ShiftedClock
    backoff?: { baseMs: number; maxMs: number }
  } = {},
) {
  const browser = o.browser ?? new BrowserFetch(APP)
  const counting = new CountingFetch(browser.fetch)
  const storage = recordingStorage()
  const { client } = clientFor(s, {
    refreshTokenDelivery: 'cookie',
    counting,
    storage,
    autoRefresh: false,
    ...(o.clock ? { clock: o.clock } : {}),
    ...(o.backoff ? { backoff: o.backoff } : {}),
  })
  return { client, counting, storage, browser }
}

async function sessionRow(id: string) {
  const row = await s.t.store.getSession(id)
  if (!row) throw new Error('no session row')
  return row
}

/** The session id named by the browser's refresh cookie. */
function cookieSession(browser: BrowserFetch): string {
  const [value] = browser.cookies(COOKIE)
  const m = /^tsr_([A-Za-z0-9_-]{22})\./.exec(value ?? '')
  if (!m) throw new Error('no refresh cookie')
  return m[1]!
}

async function rejection(p: Promise<unknown>): Promise<TesseraClientError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraClientError)
    return err as TesseraClientError
  }
  throw new Error('expected a rejection')
}

describe('cookie mode against Tessera', () => {
  it('SDK-05 sign-in: the refresh token is only in the HttpOnly cookie; the client, its storage and its requests never hold it', async () => {
    const { client, counting, storage, browser } = cookieClient()
    await signIn(s, client)
    const snap = client.getSnapshot()
    expect(snap.status).toBe('signed-in')
    const rec = await storedSession(storage)
    expect(rec.refreshToken).toBeNull()
    expect(rec.sessionId).toBe(snap.sessionId)
    expect(browser.cookies(COOKIE)).toHaveLength(1)
    expect(cookieSession(browser)).toBe(snap.sessionId)
    expect(snap.sessionExpiresAt).toBeGreaterThan(Date.now() + 13 * 86_400_000)

    const token = await client.getToken({ audience: API_A })
    expect(decodeJwt(token)).toMatchObject({ aud: API_A, sid: snap.sessionId })
    expect(counting.refreshes()).toEqual([
      { grantType: 'refresh_token', resource: [API_A], refreshToken: null },
    ])
    expect(storage.written.length).toBeGreaterThan(2)
    for (const v of storage.written) expect(v).not.toContain('tsr_')
    client.dispose()
  })

  it('RT-01 each refresh rotates the cookie at the server; the JSON never carries it', async () => {
    const { client, counting, browser } = cookieClient()
    await signIn(s, client)
    const sid = client.getSnapshot().sessionId!
    const first = browser.cookies(COOKIE)[0]
    await client.getToken({ audience: API_A })
    await client.getToken({ audience: s.api.url })
    expect(counting.refreshes()).toHaveLength(2)
    expect(browser.cookies(COOKIE)[0]).not.toBe(first)
    expect(await sessionRow(sid)).toMatchObject({ generation: 2, graceUses: 0, state: 'active' })
    client.dispose()
  })

  it('SDK-01 1,000 concurrent getToken calls on an expired token make exactly one refresh request', async () => {
    const clock = new ShiftedClock()
    const { client, counting } = cookieClient({ clock })
    await signIn(s, client)
    await client.getToken({ audience: API_A })
    const sid = client.getSnapshot().sessionId!
    const before = await sessionRow(sid)
    clock.offset = 16 * 60_000
    const n = counting.refreshes().length
    const tokens = await Promise.all(
      Array.from({ length: 1000 }, () => client.getToken({ audience: API_A })),
    )
    expect(counting.refreshes().length - n).toBe(1)
    expect(new Set(tokens).size).toBe(1)
    const after = await sessionRow(sid)
    expect(after.generation).toBe(before.generation + 1)
    expect(after.graceUses).toBe(0)
    client.dispose()
  })

  it('fetch attaches tokens and replays a 401 once through a cookie refresh', async () => {
    const { client, counting } = cookieClient()
    await signIn(s, client)
    const token = await client.getToken({ audience: s.api.url })
    s.api.rejected.add(token)
    const n = counting.refreshes().length
    const res = await client.fetch(s.api.url + '/orders', { method: 'POST', body: 'x' })
    expect(res.status).toBe(200)
    expect(counting.refreshes().length - n).toBe(1)
    client.dispose()
  })

  it('SDK-08 a refresh response lost before its cookie arrived: the in-call retry presents the old cookie inside the grace window and that getToken resolves', async () => {
    const { client, counting, browser } = cookieClient()
    await signIn(s, client)
    const sid = client.getSnapshot().sessionId!
    const cookie0 = browser.cookies(COOKIE)[0]
    let lost = 0
    browser.lose = (req) => req.url.endsWith('/oauth/token') && lost++ === 0
    expect(decodeJwt(await client.getToken({ audience: API_A })).aud).toBe(API_A)
    expect(counting.refreshes()).toHaveLength(2)
    expect(await sessionRow(sid)).toMatchObject({ generation: 1, graceUses: 1, state: 'active' })
    expect(browser.cookies(COOKIE)[0]).not.toBe(cookie0)
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', error: null })
    client.dispose()
  })

  it('SDK-02 a refresh response lost twice before its cookie arrived: the backoff retry presents the old cookie inside the grace window and converges', async () => {
    const { client, counting, browser } = cookieClient({ backoff: { baseMs: 50, maxMs: 100 } })
    await signIn(s, client)
    const sid = client.getSnapshot().sessionId!
    const cookie0 = browser.cookies(COOKIE)[0]
    let lost = 0
    browser.lose = (req) => req.url.endsWith('/oauth/token') && lost++ < 2
    const err = await rejection(client.getToken({ audience: API_A }))
    expect(err.code).toBe('network')
    expect(client.getSnapshot()).toMatchObject({ status: 'offline', isSignedIn: true })
    // The server rotated; the browser still holds the cookie it sent.
    expect((await sessionRow(sid)).generation).toBe(1)
    expect(browser.cookies(COOKIE)[0]).toBe(cookie0)
    // The backoff timer retries with the same cookie, inside the grace window.
    await expect.poll(() => client.getSnapshot().status, { timeout: 5000 }).toBe('signed-in')
    expect(await sessionRow(sid)).toMatchObject({ generation: 1, graceUses: 2, state: 'active' })
    expect(browser.cookies(COOKIE)[0]).not.toBe(cookie0)
    expect(counting.refreshes()).toHaveLength(3)
    expect(decodeJwt(await client.getToken({ audience: API_A })).aud).toBe(API_A)
    client.dispose()
  })

  it('SES-08 sign-out revokes the cookie’s session at the server, which clears the cookie', async () => {
    const { client, counting, browser } = cookieClient()
    await signIn(s, client)
    const sid = client.getSnapshot().sessionId!
    await client.signOut({ navigate: false })
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'sign_out' })
    expect(counting.revocations).toEqual(['/oauth/revoke'])
    expect(counting.revocationBodies[0]?.has('token')).toBe(false)
    expect(browser.cookies(COOKIE)).toEqual([])
    expect(await sessionRow(sid)).toMatchObject({ state: 'revoked', reason: 'token_revocation' })
    client.dispose()
  })

  it('a cookie refused by the server (session revoked) signs out once, without a loop', async () => {
    const { client, counting } = cookieClient()
    await signIn(s, client)
    await s.t.store.endSession(client.getSnapshot().sessionId!, 'revoked', 'admin', s.t.clock.now())
    const err = await rejection(client.getToken({ audience: API_A }))
    expect(err.code).toBe('session_revoked')
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'session_revoked' })
    expect((await rejection(client.getToken({ audience: API_A }))).code).toBe('login_required')
    expect(counting.refreshes()).toHaveLength(1)
    client.dispose()
  })

  it('a page on an origin the client did not register cannot use the cookie: the browser blocks the answer and nothing changes', async () => {
    const { client, browser } = cookieClient()
    await signIn(s, client)
    const sid = client.getSnapshot().sessionId!
    const before = await sessionRow(sid)
    const sibling = new BrowserFetch('http://127.0.0.1:4444')
    for (const n of browser.jar.names()) sibling.jar.set(n, browser.jar.get(n)!)
    const res = await fetch(s.t.url + '/oauth/token', {
      method: 'POST',
      headers: {
        origin: sibling.origin,
        'tessera-refresh-cookie': '1',
        'content-type': 'application/x-www-form-urlencoded',
        cookie: sibling.jar.header()!,
      },
      body: 'grant_type=refresh_token&client_id=web-app',
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      error_description: 'origin http://127.0.0.1:4444 is not a web origin of this client',
    })
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(await sessionRow(sid)).toEqual(before)
    client.dispose()
  })

  it('two contexts that do not share storage: a sign-in of another user in one ends the other (other_tab), never mixing users', async () => {
    const browser = new BrowserFetch(APP)
    const a = cookieClient({ browser })
    const b = cookieClient({ browser })
    await signIn(s, a.client)
    const aliceSession = a.client.getSnapshot().sessionId
    // Same user in the other context: a's next refresh finds b's session and keeps going.
    await signIn(s, b.client)
    const second = b.client.getSnapshot().sessionId
    expect(second).not.toBe(aliceSession)
    const t1 = await a.client.getToken({ audience: API_A })
    expect(decodeJwt(t1).sid).toBe(second)
    expect(a.client.getSnapshot()).toMatchObject({ status: 'signed-in', sessionId: second })

    // Another user signs in in b: a must not carry on with bob's tokens as alice.
    await s.t.createUser('bob', 'bob password 123')
    await b.client.handleRedirectCallback(await signInAs(await b.client.signIn(), 'bob'))
    expect(b.client.getSnapshot().user?.preferred_username).toBe('bob')
    const err = await rejection(a.client.getToken({ audience: s.api.url }))
    expect(err.code).toBe('login_required')
    expect(err.message).toBe('another sign-in in this browser replaced the session')
    expect(a.client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'other_tab' })
    expect(await storedSession(a.storage)).toBeNull()
    a.client.dispose()
    b.client.dispose()
  })

  it('a server that still sends the refresh token in the body: the browser blocks the uncredentialed answer (network), and a fetch without CORS gets a configuration error; nothing stored either way', async () => {
    const bodyServer = await startTessera()
    try {
      for (const [fetcher, code] of [
        [new BrowserFetch(APP).fetch, 'network'],
        [undefined, 'configuration'],
      ] as const) {
        const storage = recordingStorage()
        const { client } = clientFor(bodyServer, {
          refreshTokenDelivery: 'cookie',
          counting: new CountingFetch(fetcher),
          storage,
        })
        const err = await rejection(
          client.handleRedirectCallback(await followSignIn(bodyServer.t, await client.signIn())),
        )
        expect(err.code).toBe(code)
        if (code === 'configuration') {
          expect(err.message).toBe(
            "the server sent the refresh token in the response body: configure refreshTokenDelivery 'cookie' for this client at the server",
          )
        }
        expect(client.getSnapshot().status).toBe('signed-out')
        expect(await storedSession(storage)).toBeNull()
        for (const v of storage.written) expect(v).not.toContain('tsr_')
        client.dispose()
      }
    } finally {
      await bodyServer.close()
    }
  })
})

/** The hosted sign-in as another user (followSignIn signs in alice). */
async function signInAs(url: URL, username: string): Promise<URL> {
  const jar = new CookieJar()
  let res = await browserFetch(jar, url.href)
  if (isLoginRedirect(s.t, res)) {
    const login = await openLogin(s.t, res, jar)
    res = await submitLogin(s.t, login.fields, jar, username, `${username} password 123`)
  }
  const location = res.headers.get('location')
  if (res.status !== 303 || !location) throw new Error(`sign-in ended with ${res.status}`)
  return new URL(location)
}
