import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issuerApi } from '../../src/oauth/token/audience.js'
import type { UserRecord } from '../../src/store/types.js'
import { dpopKey, makeProof, tokenProof } from '../helpers/dpop.js'
import { basicAuth, mintCode, postForm, codeForm } from '../helpers/grants.js'
import { authorize } from '../helpers/oauth-flow.js'
import {
  API_A,
  CONFIDENTIAL_SECRET,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'
import { NO_LONGER_VALID, refresh } from '../token/fixtures.js'
import { manualTimers, newSecret } from '../webhooks/receiver.js'
import {
  account,
  accountClients,
  ANDROID_APP,
  CHROME_MAC,
  endOthers,
  endSession,
  listSessions,
  signIn,
  type SignedIn,
} from './support.js'

/**
 * The self-service account API (SES-07): a user lists and ends their own sessions with an access
 * token for the issuer that carries `account:sessions`. Time is the test server's FakeClock.
 */

let t: TestServer
let alice: UserRecord
let bob: UserRecord

beforeAll(async () => {
  // A webhook endpoint (never polled: manual timers), so session ends write their messages.
  t = await startTestServer({
    clients: accountClients,
    config: { webhooks: { endpoints: [{ url: 'http://127.0.0.1:9/hook', secret: newSecret() }] } },
    timers: manualTimers,
  })
  alice = await t.createUser('alice')
  bob = await t.createUser('bob')
})
afterAll(async () => {
  await t.close()
})

const iso = (ms: number) => new Date(ms).toISOString()
const STALE = 'a sign-in within the last 300 seconds is required to end other sessions'

async function state(sid: string): Promise<[string, string | null]> {
  const s = await t.store.getSession(sid)
  return [s!.state, s!.reason]
}

/** Ends every live session of a user, so each test starts from its own sign-ins. */
async function fresh(user: UserRecord): Promise<void> {
  await t.store.endSessions({ userId: user.id }, 'ended', 'sign_out', t.clock.now())
}

describe('SES-07 listing my sessions', () => {
  it('lists my live sessions with client, device, IP and times, newest first, the current one marked', async () => {
    await fresh(alice)
    const t0 = t.clock.now()
    const web = await signIn(t, alice, { userAgent: CHROME_MAC })
    t.clock.advance(60_000)
    const phone = await signIn(t, alice, { clientId: 'native-app', userAgent: ANDROID_APP })
    const gone = await signIn(t, alice)
    expect((await endSession(t, gone.accessToken, gone.sid)).status).toBe(204)
    const bobs = await signIn(t, bob)
    t.clock.advance(30_000)

    const r = await listSessions(t, web.accessToken)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(r.body).toStrictEqual({
      sessions: [
        {
          id: phone.sid,
          current: false,
          state: 'active',
          end_reason: null,
          task: null,
          client: { id: 'native-app', name: 'Phone App' },
          device: {
            description: 'Android app on Android',
            browser: 'Android app',
            os: 'Android',
            type: 'mobile',
          },
          user_agent: ANDROID_APP,
          ip: '127.0.0.1',
          created_at: iso(t0 + 60_000),
          authenticated_at: iso(t0 + 60_000),
          last_active_at: iso(t0 + 60_000),
          expires_at: iso(t0 + 60_000 + 14 * 86_400_000),
          ended_at: null,
        },
        {
          id: web.sid,
          current: true,
          state: 'active',
          end_reason: null,
          task: null,
          client: { id: 'web-app', name: 'Web App' },
          device: {
            description: 'Chrome 120 on macOS',
            browser: 'Chrome 120',
            os: 'macOS',
            type: 'desktop',
          },
          user_agent: CHROME_MAC,
          ip: '127.0.0.1',
          created_at: iso(t0),
          authenticated_at: iso(t0),
          last_active_at: iso(t0),
          expires_at: iso(t0 + 14 * 86_400_000),
          ended_at: null,
        },
      ],
    })
    // The same list from the other session marks that one current; bob sees only his own.
    const fromPhone = await listSessions(t, phone.accessToken)
    expect(fromPhone.body.sessions.map((s: any) => [s.id, s.current])).toStrictEqual([
      [phone.sid, true],
      [web.sid, false],
    ])
    expect(
      (await listSessions(t, bobs.accessToken)).body.sessions.map((s: any) => s.id),
    ).toStrictEqual([bobs.sid])
  })

  it('include=ended adds the sessions that ended in the last 30 days, with state and reason', async () => {
    await fresh(alice)
    const old = await signIn(t, alice)
    await endSession(t, old.accessToken, old.sid)
    t.clock.advance(31 * 86_400_000)
    const recent = await signIn(t, alice)
    const revokedAt = t.clock.now()
    await postForm(`${t.url}/oauth/revoke`, { token: recent.refreshToken, client_id: 'web-app' })
    t.clock.advance(1000)
    const me = await signIn(t, alice)

    const live = await listSessions(t, me.accessToken)
    expect(live.body.sessions.map((s: any) => s.id)).toStrictEqual([me.sid])
    const all = await listSessions(t, me.accessToken, '?include=ended')
    expect(all.status).toBe(200)
    expect(all.body.sessions.map((s: any) => [s.id, s.state, s.end_reason])).toStrictEqual([
      [me.sid, 'active', null],
      [recent.sid, 'revoked', 'token_revocation'],
    ])
    expect(all.body.sessions[1]).toMatchObject({ ended_at: iso(revokedAt), expires_at: null })
  })

  it('a session past its idle timeout is not listed as live even before the sweep stores it', async () => {
    await fresh(alice)
    const idle = await signIn(t, alice, { clientId: 'native-app' })
    t.clock.advance(14 * 86_400_000 - 1000)
    const me = await signIn(t, alice)
    t.clock.advance(1000)
    expect(await state(idle.sid)).toStrictEqual(['active', null])
    expect(
      (await listSessions(t, me.accessToken)).body.sessions.map((s: any) => s.id),
    ).toStrictEqual([me.sid])
    const all = await listSessions(t, me.accessToken, '?include=ended')
    expect(all.body.sessions.find((s: any) => s.id === idle.sid)).toMatchObject({
      id: idle.sid,
      state: 'abandoned',
      end_reason: 'idle_timeout',
      ended_at: iso(t.clock.now()),
    })
  })
})

describe('SES-07 ending my sessions', () => {
  it('signing out the current session needs no recent sign-in; its tokens stop working at once', async () => {
    await fresh(alice)
    const me = await signIn(t, alice)
    // Long past the recent sign-in window, still inside the access token's 15 minutes.
    t.clock.advance(600_000)
    const r = await endSession(t, me.accessToken, me.sid)
    expect([r.status, r.body]).toStrictEqual([204, ''])
    expect(await state(me.sid)).toStrictEqual(['ended', 'sign_out'])
    const events = await t.store.listEvents({ sessionId: me.sid })
    expect(events.map((e) => [e.type, e.data])).toStrictEqual([
      ['sign_out', { reason: 'sign_out', via: 'account_api', bySession: me.sid }],
    ])
    // The refresh token is dead, and the access token is refused at once, long before its exp.
    const rt = await refresh(t, me.refreshToken)
    expect([rt.status, rt.body.error, rt.body.error_description]).toStrictEqual([
      400,
      'invalid_grant',
      NO_LONGER_VALID,
    ])
    const after = await listSessions(t, me.accessToken)
    expect(after.status).toBe(401)
    expect(after.body).toStrictEqual({
      error: 'invalid_token',
      error_description: 'the access token is invalid or expired',
    })
    expect(after.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"',
    )
    // The webhook message of the change is in the outbox.
    const msg = (await t.store.listWebhookMessages(1000)).find((m) => m.id === `msg_${me.sid}`)
    expect(JSON.parse(msg!.payload)).toMatchObject({
      type: 'session.ended',
      data: { session_id: me.sid, reason: 'sign_out', state: 'ended' },
    })
  })

  it('ending another session needs a recent sign-in (RFC 9470), and works after re-authentication', async () => {
    await fresh(alice)
    const phone = await signIn(t, alice, { clientId: 'native-app' })
    const me = await signIn(t, alice)
    t.clock.advance(300_001)

    const refused = await endSession(t, me.accessToken, phone.sid)
    expect(refused.status).toBe(401)
    expect(refused.body).toStrictEqual({
      error: 'insufficient_user_authentication',
      error_description: STALE,
    })
    expect(refused.headers.get('www-authenticate')).toBe(
      `Bearer realm="tessera", error="insufficient_user_authentication", error_description="${STALE}", max_age=300`,
    )
    expect(await state(phone.sid)).toStrictEqual(['active', null])
    expect(await t.store.listEvents({ sessionId: phone.sid })).toStrictEqual([])
    // A refresh keeps the old auth_time: still refused.
    const refreshed = await refresh(t, me.refreshToken)
    expect(refreshed.status).toBe(200)
    const stillStale = await endSession(t, refreshed.body.access_token, phone.sid)
    expect({ status: stillStale.status, body: stillStale.body }).toStrictEqual({
      status: 401,
      body: { error: 'insufficient_user_authentication', error_description: STALE },
    })
    expect(await state(phone.sid)).toStrictEqual(['active', null])

    // Signing in again gives a session whose auth_time is now.
    const again = await signIn(t, alice)
    const ok = await endSession(t, again.accessToken, phone.sid)
    expect(ok.status).toBe(204)
    expect(await state(phone.sid)).toStrictEqual(['revoked', 'user'])
    const [event] = await t.store.listEvents({ sessionId: phone.sid })
    expect(event).toMatchObject({
      type: 'session_revoked',
      userId: alice.id,
      clientId: 'native-app',
      ip: '127.0.0.1',
      data: { reason: 'user', via: 'account_api', bySession: again.sid },
    })
    const rt = await refresh(t, phone.refreshToken, {}, 'native-app')
    expect([rt.status, rt.body.error]).toStrictEqual([400, 'invalid_grant'])
    const phoneList = await listSessions(t, phone.accessToken)
    expect({ status: phoneList.status, body: phoneList.body }).toStrictEqual({
      status: 401,
      body: {
        error: 'invalid_token',
        error_description: 'the access token is invalid or expired',
      },
    })
    // Ending it again is a no-op.
    expect((await endSession(t, again.accessToken, phone.sid)).status).toBe(204)
    expect(await t.store.listEvents({ sessionId: phone.sid })).toHaveLength(1)
  })

  it('the recent sign-in window is maxAuthAgeSeconds: exactly 300 s is recent, 300.001 s is not', async () => {
    await fresh(alice)
    const a = await signIn(t, alice, { clientId: 'native-app' })
    const b = await signIn(t, alice, { clientId: 'native-app' })
    const me = await signIn(t, alice)
    t.clock.advance(300_000)
    expect((await endSession(t, me.accessToken, a.sid)).status).toBe(204)
    expect(await state(a.sid)).toStrictEqual(['revoked', 'user'])
    t.clock.advance(1)
    const late = await endSession(t, me.accessToken, b.sid)
    expect(late.status).toBe(401)
    expect(late.body).toStrictEqual({
      error: 'insufficient_user_authentication',
      error_description: STALE,
    })
    expect(await state(b.sid)).toStrictEqual(['active', null])
  })

  it('SES-07 through the real front channel: re-authentication with max_age, and the other device cannot sign in silently', async () => {
    await fresh(alice)
    const redeem = async (a: Awaited<ReturnType<typeof authorize>>): Promise<SignedIn> =>
      (async () => {
        const r = await postForm(`${t.url}/oauth/token`, {
          grant_type: 'authorization_code',
          code: a.code,
          code_verifier: a.codeVerifier,
          redirect_uri: a.redirectUri,
          client_id: 'web-app',
        })
        expect(r.status).toBe(200)
        const rt = r.body.refresh_token as string
        return {
          sid: /^tsr_([^.]+)\./.exec(rt)![1]!,
          accessToken: r.body.access_token,
          refreshToken: rt,
        }
      })()
    const scope = 'openid offline_access account:sessions'
    const laptop = await authorize(t, { scope })
    const mine = await redeem(laptop)
    const tablet = await authorize(t, { scope })
    const other = await redeem(tablet)
    t.clock.advance(600_000)

    const refused = await endSession(t, mine.accessToken, other.sid)
    expect(refused.headers.get('www-authenticate')).toMatch(/max_age=300$/)
    // The client does what the challenge says: max_age=300 forces the sign-in form again.
    const reauth = await authorize(t, { scope, jar: laptop.cookies, maxAge: 300 })
    expect(reauth.signedIn).toBe(true)
    const fresher = await redeem(reauth)
    expect((await endSession(t, fresher.accessToken, other.sid)).status).toBe(204)
    expect(await state(other.sid)).toStrictEqual(['revoked', 'user'])
    // The tablet's sign-on ended with it: no silent sign-in there; the laptop's still answers.
    await expect(authorize(t, { scope, jar: tablet.cookies, prompt: 'none' })).rejects.toThrow(
      /login_required/,
    )
    expect((await authorize(t, { scope, jar: laptop.cookies, prompt: 'none' })).signedIn).toBe(
      false,
    )
  })

  it("ending all other sessions ends each one (event and webhook message each) and the other sign-ons, not mine nor anyone else's", async () => {
    await fresh(alice)
    const bs = async () => {
      const id = `bs-${Math.random().toString(36).slice(2)}`
      const now = t.clock.now()
      await t.store.createBrowserSession({
        id,
        userId: alice.id,
        authTime: now,
        amr: ['pwd'],
        createdAt: now,
        lastActiveAt: now,
        expiresAt: now + 86_400_000,
        endedAt: null,
      })
      return id
    }
    const [bsMine, bsOther] = [await bs(), await bs()]
    const a = await signIn(t, alice, { clientId: 'native-app', browserSessionId: bsOther })
    const b = await signIn(t, alice, { clientId: 'other-app' })
    const me = await signIn(t, alice, { browserSessionId: bsMine })
    const bobs = await signIn(t, bob)
    t.clock.advance(300_001)
    const refused = await endOthers(t, me.accessToken)
    expect([refused.status, refused.body.error]).toStrictEqual([
      401,
      'insufficient_user_authentication',
    ])
    expect(await state(a.sid)).toStrictEqual(['active', null])
    expect((await t.store.getBrowserSession(bsOther))?.endedAt).toBeNull()

    const again = await signIn(t, alice, { browserSessionId: bsMine })
    const r = await endOthers(t, again.accessToken)
    expect(r.status).toBe(200)
    expect([...r.body.ended].sort()).toStrictEqual([a.sid, b.sid, me.sid].sort())
    for (const s of [a, b, me]) {
      expect(await state(s.sid)).toStrictEqual(['revoked', 'user'])
      expect((await t.store.listEvents({ sessionId: s.sid })).map((e) => e.type)).toStrictEqual([
        'session_revoked',
      ])
    }
    const messages = (await t.store.listWebhookMessages(1000)).map((m) => m.id)
    for (const s of [a, b, me]) expect(messages).toContain(`msg_${s.sid}`)
    expect(await state(again.sid)).toStrictEqual(['active', null])
    expect(await state(bobs.sid)).toStrictEqual(['active', null])
    expect((await t.store.getBrowserSession(bsOther))?.endedAt).toBe(t.clock.now())
    expect((await t.store.getBrowserSession(bsMine))?.endedAt).toBeNull()
    // Nothing left to end.
    expect((await endOthers(t, again.accessToken)).body).toStrictEqual({ ended: [] })
  })

  it("another user's session id is 404, exactly like an unknown id, and nothing changes", async () => {
    await fresh(bob)
    const bobs = await signIn(t, bob)
    const me = await signIn(t, alice)
    const theirs = await endSession(t, me.accessToken, bobs.sid)
    const unknown = await endSession(t, me.accessToken, 'AAAAAAAAAAAAAAAAAAAAAA')
    for (const r of [theirs, unknown]) {
      expect(r.status).toBe(404)
      expect(r.body).toStrictEqual({ error: 'not_found', error_description: 'no such session' })
      expect(r.headers.get('www-authenticate')).toBeNull()
    }
    expect(await state(bobs.sid)).toStrictEqual(['active', null])
    expect(await t.store.listEvents({ sessionId: bobs.sid })).toStrictEqual([])
    expect((await refresh(t, bobs.refreshToken)).status).toBe(200)
    // A stale sign-in does not turn the 404 into a 401 that would confirm the id exists.
    t.clock.advance(600_000)
    expect((await endSession(t, me.accessToken, bobs.sid)).status).toBe(404)
  })
})

describe('account API: authentication, scope and bad input', () => {
  let me: SignedIn
  let target: SignedIn
  beforeAll(async () => {
    me = await signIn(t, alice)
    target = await signIn(t, alice, { clientId: 'native-app' })
  })

  it.each<
    [string, () => Promise<Awaited<ReturnType<typeof account>>>, number, object, string | null]
  >([
    [
      'no token',
      () => account(t, 'GET', '/account/sessions', undefined),
      401,
      { error: 'invalid_token', error_description: 'an access token is required' },
      'Bearer realm="tessera", DPoP realm="tessera", algs="ES256 EdDSA Ed25519 RS256 PS256"',
    ],
    [
      'a Basic Authorization header',
      () => account(t, 'GET', '/account/sessions', undefined, basicAuth('web-app', 'x')),
      401,
      {
        error: 'invalid_token',
        error_description: 'the Authorization header is not a Bearer or DPoP token',
      },
      'Bearer realm="tessera", error="invalid_token", error_description="the Authorization header is not a Bearer or DPoP token"',
    ],
    [
      'the token in the query string',
      () => account(t, 'GET', `/account/sessions?access_token=${me.accessToken}`, undefined),
      400,
      {
        error: 'invalid_request',
        error_description: 'the access token must not be sent in the URL',
      },
      'Bearer realm="tessera", error="invalid_request"',
    ],
    [
      'a garbage token',
      () => account(t, 'GET', '/account/sessions', 'not.a.jwt'),
      401,
      { error: 'invalid_token', error_description: 'the access token is invalid or expired' },
      'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"',
    ],
    [
      'include with an unknown value',
      () => account(t, 'GET', '/account/sessions?include=all', me.accessToken),
      400,
      { error: 'invalid_request', error_description: 'include must be ended' },
      null,
    ],
    [
      'include twice',
      () => account(t, 'GET', '/account/sessions?include=ended&include=ended', me.accessToken),
      400,
      {
        error: 'invalid_request',
        error_description: 'parameter include is included more than once',
      },
      null,
    ],
    [
      'a short session id',
      () => endSession(t, me.accessToken, 'abc'),
      400,
      { error: 'invalid_request', error_description: 'the session id is malformed' },
      null,
    ],
    [
      'a session id with other characters',
      () => endSession(t, me.accessToken, 'AAAAAAAAAAAAAAAAAAAA%27%3B--'),
      400,
      { error: 'invalid_request', error_description: 'the session id is malformed' },
      null,
    ],
    [
      'a 65-character session id',
      () => endSession(t, me.accessToken, 'A'.repeat(65)),
      400,
      { error: 'invalid_request', error_description: 'the session id is malformed' },
      null,
    ],
    [
      'a method the API does not have',
      () => account(t, 'POST', '/account/sessions', me.accessToken),
      404,
      { error: 'not_found', error_description: 'no such endpoint' },
      null,
    ],
  ])('%s', async (_name, call, status, body, challenge) => {
    const r = await call()
    expect(r.status).toBe(status)
    expect(r.body).toStrictEqual(body)
    expect(r.headers.get('www-authenticate')).toBe(challenge)
    expect(await state(target.sid)).toStrictEqual(['active', null])
  })

  it('a token without account:sessions gets 403 insufficient_scope naming the scope', async () => {
    const narrow = await signIn(t, alice, { scope: 'openid offline_access' })
    const r = await listSessions(t, narrow.accessToken)
    expect(r.status).toBe(403)
    expect(r.body).toStrictEqual({
      error: 'insufficient_scope',
      error_description: 'the access token lacks the account:sessions scope',
    })
    expect(r.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="insufficient_scope", error_description="the access token lacks the account:sessions scope", scope="account:sessions"',
    )
    expect((await endSession(t, narrow.accessToken, target.sid)).status).toBe(403)
    expect(await state(target.sid)).toStrictEqual(['active', null])
    // A client not registered for the scope cannot even ask for it.
    const other = await signIn(t, alice, { clientId: 'other-app' })
    expect((await listSessions(t, other.accessToken)).status).toBe(403)
  })

  it('tokens for an API, ID tokens and client_credentials tokens are refused', async () => {
    const api = await refresh(t, me.refreshToken, { resource: API_A })
    expect(api.status).toBe(200)
    me = { ...me, refreshToken: api.body.refresh_token }
    for (const token of [api.body.access_token as string, api.body.id_token as string]) {
      const r = await listSessions(t, token)
      expect([r.status, r.body.error]).toStrictEqual([401, 'invalid_token'])
    }
    // client_credentials tokens are for APIs only; one for API A is refused here like any other.
    const cc = await postForm(
      `${t.url}/oauth/token`,
      { grant_type: 'client_credentials', resource: API_A },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expect(cc.status).toBe(200)
    const ccList = await listSessions(t, cc.body.access_token)
    expect(ccList.status).toBe(401)
    expect(ccList.body).toStrictEqual({
      error: 'invalid_token',
      error_description: 'the access token is invalid or expired',
    })
    // A token of ours for the issuer but without a user session (no sub user, no sid).
    const ctx = t.server.ctx
    const client = (await t.store.getClient('confidential-app'))!
    const bare = await ctx.tokens.accessToken({
      api: issuerApi(ctx),
      client,
      user: undefined,
      scope: 'account:sessions',
    })
    const r = await listSessions(t, bare.token)
    expect(r.status).toBe(401)
    expect(r.body).toStrictEqual({
      error: 'invalid_token',
      error_description: 'the access token is not for a signed-in user',
    })
  })

  it('an access token of a disabled user is refused at once', async () => {
    const carol = await t.createUser('carol')
    const s = await signIn(t, carol)
    expect((await listSessions(t, s.accessToken)).status).toBe(200)
    await t.store.updateUser({ ...carol, disabled: true })
    const refused = await listSessions(t, s.accessToken)
    expect(refused.status).toBe(401)
    expect(refused.body).toStrictEqual({
      error: 'invalid_token',
      error_description: 'the access token is invalid or expired',
    })
    expect(refused.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"',
    )
  })
})

describe('account API: CORS for the registered web apps', () => {
  const APP = 'https://app.example.test'

  it('a preflight from a registered redirect URI origin is allowed; any other origin is not', async () => {
    const ok = await account(t, 'OPTIONS', '/account/sessions/AAAAAAAAAAAAAAAAAAAAAA', undefined, {
      origin: APP,
      'access-control-request-method': 'DELETE',
      'access-control-request-headers': 'authorization',
    })
    expect(ok.status).toBe(204)
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP)
    expect(ok.headers.get('access-control-allow-methods')).toBe('DELETE')
    expect(ok.headers.get('access-control-allow-headers')).toBe('authorization, dpop')
    expect(ok.headers.get('vary')).toBe('Origin')
    const list = await account(t, 'OPTIONS', '/account/sessions', undefined, {
      origin: 'http://127.0.0.1',
      'access-control-request-method': 'GET',
    })
    expect(list.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1')
    expect(list.headers.get('access-control-allow-methods')).toBe('GET, DELETE')

    // A client's registered webOrigins count too.
    const spa = await account(t, 'OPTIONS', '/account/sessions', undefined, {
      origin: 'http://127.0.0.1:5173',
      'access-control-request-method': 'GET',
    })
    expect(spa.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:5173')

    for (const origin of ['https://evil.example.test', 'https://app.example.test:8443', 'null']) {
      const no = await account(t, 'OPTIONS', '/account/sessions', undefined, {
        origin,
        'access-control-request-method': 'GET',
      })
      expect(no.status).toBe(204)
      expect(no.headers.get('access-control-allow-origin')).toBeNull()
      expect(no.headers.get('access-control-allow-methods')).toBeNull()
    }
  })

  it('answers, errors included, carry the origin grant only for a registered origin', async () => {
    const me = await signIn(t, alice)
    const ok = await account(t, 'GET', '/account/sessions', me.accessToken, { origin: APP })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP)
    expect(ok.headers.get('access-control-expose-headers')).toBe(
      'www-authenticate, retry-after, dpop-nonce',
    )
    const err = await account(t, 'GET', '/account/sessions', 'bad', { origin: APP })
    expect(err.status).toBe(401)
    expect(err.headers.get('access-control-allow-origin')).toBe(APP)
    const evil = await account(t, 'GET', '/account/sessions', me.accessToken, {
      origin: 'https://evil.example.test',
    })
    expect(evil.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('account API with DPoP-bound tokens (RFC 9449 7)', () => {
  async function boundSignIn() {
    const key = await dpopKey('ES256')
    const c = await mintCode(t, alice, { scope: 'openid offline_access account:sessions' })
    const r = await postForm(`${t.url}/oauth/token`, codeForm(c), { dpop: tokenProof(t, key) })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.token_type).toBe('DPoP')
    const sid = /^tsr_([^.]+)\./.exec(r.body.refresh_token as string)![1]!
    return { key, at: r.body.access_token as string, sid }
  }
  const proof = (
    key: Awaited<ReturnType<typeof dpopKey>>,
    at: string,
    method: string,
    path: string,
  ) => makeProof(key, { htu: `${t.url}${path}`, htm: method, accessToken: at }, t.clock.now())

  it('lists and ends sessions with the DPoP scheme and a proof of the bound key', async () => {
    await fresh(alice)
    const { key, at, sid } = await boundSignIn()
    const list = await account(t, 'GET', '/account/sessions', undefined, {
      authorization: `DPoP ${at}`,
      dpop: proof(key, at, 'GET', '/account/sessions'),
    })
    expect(list.status, JSON.stringify(list.body)).toBe(200)
    expect(
      list.body.sessions.map((s: { id: string; current: boolean }) => [s.id, s.current]),
    ).toEqual([[sid, true]])
    const end = await account(t, 'DELETE', `/account/sessions/${sid}`, undefined, {
      authorization: `DPoP ${at}`,
      dpop: proof(key, at, 'DELETE', `/account/sessions/${sid}`),
    })
    expect(end.status).toBe(204)
    expect(await state(sid)).toEqual(['ended', 'sign_out'])
  })

  it('a bound token sent as Bearer, without a proof, or with a proof for another URL is refused and ends nothing', async () => {
    await fresh(alice)
    const { key, at, sid } = await boundSignIn()
    const other = await dpopKey('ES256')
    const cases: [Record<string, string>, string, string][] = [
      [
        { authorization: `Bearer ${at}` },
        'invalid_token',
        'the access token is DPoP-bound: send it with the DPoP scheme',
      ],
      [{ authorization: `DPoP ${at}` }, 'invalid_dpop_proof', 'send exactly one DPoP header'],
      [
        { authorization: `DPoP ${at}`, dpop: proof(key, at, 'DELETE', '/account/sessions') },
        'invalid_dpop_proof',
        `htu claim of the DPoP proof must be ${t.url}/account/sessions/${sid}`,
      ],
      [
        {
          authorization: `DPoP ${at}`,
          dpop: proof(other, at, 'DELETE', `/account/sessions/${sid}`),
        },
        'invalid_dpop_proof',
        'the DPoP proof key is not the key the access token is bound to',
      ],
    ]
    for (const [headers, error, description] of cases) {
      const r = await account(t, 'DELETE', `/account/sessions/${sid}`, undefined, headers)
      expect(r.status, JSON.stringify(r.body)).toBe(401)
      expect(r.body.error).toBe(error)
      expect(r.body.error_description).toBe(description)
      expect(r.headers.get('www-authenticate')).toMatch(/^DPoP realm="tessera", error="/)
      expect(r.headers.get('www-authenticate')).toBe(
        `DPoP realm="tessera", error="${error}", error_description="${description}", algs="ES256 EdDSA Ed25519 RS256 PS256"`,
      )
    }
    expect(await state(sid)).toEqual(['active', null])
  })
})
