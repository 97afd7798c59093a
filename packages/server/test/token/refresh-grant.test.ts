import { decodeJwt, jwtVerify } from 'jose'
import { describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, mintCode, postForm, sessionOf } from '../helpers/grants.js'
import { API_A, API_B, CONFIDENTIAL_SECRET, type TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  INVALID,
  isActive,
  judge,
  jwksOf,
  NO_LONGER_VALID,
  POST_SECRET,
  refresh,
  sidOf,
  signInSession,
  useTokenServer,
  tokenEndpoint,
  userinfo,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

/** Signs in with the email scope too (RT-15 checks the ID token's claims). */
const signIn = (user: UserRecord = alice, o: Parameters<typeof signInSession>[2] = {}) =>
  signInSession(t, user, { scope: 'openid profile email offline_access read', ...o })

async function confidentialSignIn(): Promise<{ at: string; rt: string; sid: string }> {
  const c = await mintCode(t, alice, {
    clientId: 'confidential-app',
    scope: 'openid offline_access read',
  })
  const r = await postForm(
    tokenEndpoint(t),
    {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      redirect_uri: c.redirectUri,
    },
    confidentialAuth(),
  )
  expect(r.status).toBe(200)
  return { at: r.body.access_token, rt: r.body.refresh_token, sid: sidOf(r.body.refresh_token) }
}

// RT-18 (DPoP-bound refresh tokens, RFC 9449) has no test: DPoP is not built. The server neither
// advertises `dpop_signing_alg_values_supported` nor reads a DPoP header; add RT-18 with it.
describe('refresh_token grant: clients, scope, audience, lifetimes, account state', () => {
  it("RT-07 client B presenting client A's refresh token is invalid_grant: no tokens, no rotation", async () => {
    const a = await signIn()
    const s = await sessionOf(t, a.sid)
    const before = dbCounts(t)
    const attempts = [
      // A public client identifying itself with client_id.
      await refresh(t, a.rt, {}, 'other-app'),
      // A confidential client that authenticates properly.
      await postForm(
        tokenEndpoint(t),
        { grant_type: 'refresh_token', refresh_token: a.rt },
        confidentialAuth(),
      ),
      await postForm(tokenEndpoint(t), {
        grant_type: 'refresh_token',
        refresh_token: a.rt,
        client_id: 'post-app',
        client_secret: POST_SECRET,
      }),
    ]
    for (const r of attempts) {
      expectOAuthError(r, 400, 'invalid_grant', INVALID)
      expect(r.body.access_token).toBeUndefined()
    }
    expect(dbCounts(t)).toEqual(before)
    expect(await sessionOf(t, a.sid)).toEqual(s)
    // And the other way round: A cannot use the confidential client's token.
    const c = await confidentialSignIn()
    expectOAuthError(await refresh(t, c.rt, {}, 'web-app'), 400, 'invalid_grant', INVALID)
    expect((await sessionOf(t, c.sid)).generation).toBe(0)
  })

  it('RT-08 a confidential client refreshing without client authentication is invalid_client', async () => {
    const c = await confidentialSignIn()
    const s = await sessionOf(t, c.sid)
    const cases: [Record<string, string>, Record<string, string>, string, string | null][] = [
      [{ client_id: 'confidential-app' }, {}, 'client authentication is required', null],
      [{}, {}, 'client authentication is required', null],
      [
        {},
        basicAuth('confidential-app', CONFIDENTIAL_SECRET.slice(0, -1)),
        'client authentication failed',
        'Basic realm="tessera", charset="UTF-8"',
      ],
    ]
    for (const [extra, headers, desc, wwwAuth] of cases) {
      const r = await postForm(
        tokenEndpoint(t),
        { grant_type: 'refresh_token', refresh_token: c.rt, ...extra },
        headers,
      )
      expectOAuthError(r, 401, 'invalid_client', desc)
      expect(r.headers.get('www-authenticate')).toBe(wwwAuth)
    }
    expect(await sessionOf(t, c.sid)).toEqual(s)
    const ok = await postForm(
      tokenEndpoint(t),
      { grant_type: 'refresh_token', refresh_token: c.rt },
      confidentialAuth(),
    )
    expect(ok.status).toBe(200)
  })

  it('RT-09 asking for more scope at refresh is invalid_scope and rotates nothing', async () => {
    const a = await signIn(alice, { scope: 'openid profile offline_access read' })
    const s = await sessionOf(t, a.sid)
    for (const [scope, resource] of [
      ['openid email', undefined],
      ['openid profile offline_access read write', undefined],
      ['write', API_A],
      ['orders', API_B],
      ['admin', undefined],
    ] as const) {
      const r = await refresh(t, a.rt, { scope, ...(resource ? { resource } : {}) })
      expectOAuthError(r, 400, 'invalid_scope', 'the requested scope exceeds the granted scope')
    }
    expect(await sessionOf(t, a.sid)).toEqual(s)
  })

  it('RT-09 narrowing at refresh is allowed and the rotated refresh token keeps the original scope', async () => {
    const a = await signIn(alice, { scope: 'openid profile offline_access read' })
    const narrowed = await refresh(t, a.rt, { scope: 'openid' })
    expect(narrowed.status).toBe(200)
    expect(narrowed.body.scope).toBe('openid')
    expect(decodeJwt(narrowed.body.access_token).scope).toBe('openid')
    expect((await sessionOf(t, a.sid)).scope).toBe('openid profile offline_access read')
    // The next refresh, without scope, gets the whole grant back: narrowing did not shrink it.
    const full = await refresh(t, narrowed.body.refresh_token)
    expect(full.body.scope).toBe('openid profile offline_access')
    const api = await refresh(t, full.body.refresh_token, { resource: API_A })
    expect(api.body.scope).toBe('read')
    // Narrowing for an API: the token carries the requested subset only.
    const none = await refresh(t, api.body.refresh_token, { resource: API_A, scope: 'openid' })
    expect(none.status).toBe(200)
    expect(decodeJwt(none.body.access_token).scope).toBe('')
  })

  it('RT-10 a resource at refresh that the grant does not include is invalid_target; nothing rotates', async () => {
    const a = await signIn(alice, { resources: [API_A] })
    const s = await sessionOf(t, a.sid)
    const cases: [Record<string, string | string[]>, string][] = [
      [{ resource: API_B }, 'the resource is not allowed for this grant'],
      [{ audience: API_B }, 'the resource is not allowed for this grant'],
      [{ resource: 'https://unknown.example.test' }, 'the resource is not allowed for this grant'],
      [{ resource: `${API_A}/` }, 'the resource is not allowed for this grant'],
      [{ resource: 'api-a' }, 'resource must be an absolute URI'],
      [{ resource: `${API_A}#frag` }, 'resource must not contain a fragment'],
      [
        { resource: [API_A, API_B] },
        'an access token is for one resource; request one resource at a time',
      ],
    ]
    for (const [extra, desc] of cases) {
      expectOAuthError(await refresh(t, a.rt, extra), 400, 'invalid_target', desc)
    }
    expect(await sessionOf(t, a.sid)).toEqual(s)
    const ok = await refresh(t, a.rt, { resource: API_A })
    expect(ok.status).toBe(200)
    expect(decodeJwt(ok.body.access_token).aud).toBe(API_A)
  })

  it('RT-11 a refresh token unused for the idle timeout is invalid_grant; 1 ms before, it works', async () => {
    // short-app: idle 600 s, absolute 1800 s.
    const a = await signIn(alice, { clientId: 'short-app', scope: 'openid offline_access read' })
    const b = await signIn(alice, { clientId: 'short-app', scope: 'openid offline_access read' })
    t.clock.advance(600_000 - 1)
    const ok = await refresh(t, a.rt, {}, 'short-app')
    expect(ok.status).toBe(200)
    expect(ok.body.refresh_token_expires_in).toBe(600)
    t.clock.advance(1)
    expectOAuthError(await refresh(t, b.rt, {}, 'short-app'), 400, 'invalid_grant', NO_LONGER_VALID)
    expect(await sessionOf(t, b.sid)).toMatchObject({
      state: 'abandoned',
      reason: 'idle_timeout',
      endedAt: t.clock.now(),
    })
    expect(await isActive(t, b.at)).toBe(false)
    // The refreshed session's idle clock restarted at its refresh.
    t.clock.advance(600_000 - 2)
    const again = await refresh(t, ok.body.refresh_token, {}, 'short-app')
    expect(again.status).toBe(200)
  })

  it('RT-11 a grace replay counts as activity; the idle timeout runs from it', async () => {
    const a = await signIn(alice, { clientId: 'short-app', scope: 'openid offline_access' })
    const r1 = await refresh(t, a.rt, {}, 'short-app')
    t.clock.advance(20_000)
    expect((await refresh(t, a.rt, {}, 'short-app')).status).toBe(200)
    expect((await sessionOf(t, a.sid)).lastActiveAt).toBe(t.clock.now())
    t.clock.advance(600_000)
    expectOAuthError(
      await refresh(t, r1.body.refresh_token, {}, 'short-app'),
      400,
      'invalid_grant',
      NO_LONGER_VALID,
    )
    expect((await sessionOf(t, a.sid)).state).toBe('abandoned')
  })

  it('RT-12 refreshing past the absolute lifetime fails at the maximum; RT expiry never exceeds it', async () => {
    const a = await signIn(alice, { clientId: 'short-app', scope: 'openid offline_access' })
    const s0 = await sessionOf(t, a.sid)
    expect(s0.expiresAt).toBe(s0.createdAt + 1_800_000)
    let rt = a.rt
    const step = 500_000
    while (t.clock.now() + step < s0.expiresAt) {
      t.clock.advance(step)
      const r = await refresh(t, rt, {}, 'short-app')
      expect(r.status).toBe(200)
      const remaining = (s0.expiresAt - t.clock.now()) / 1000
      expect(r.body.refresh_token_expires_in).toBeLessThanOrEqual(remaining)
      expect(r.body.refresh_token_expires_in).toBe(Math.min(600, Math.floor(remaining)))
      const intro = await introspect(r.body.refresh_token)
      expect(intro.exp).toBeLessThanOrEqual(s0.expiresAt / 1000)
      rt = r.body.refresh_token
    }
    // 1 ms before the maximum: still refreshes, with nothing left to live.
    t.clock.set(s0.expiresAt - 1)
    const last = await refresh(t, rt, {}, 'short-app')
    expect(last.status).toBe(200)
    expect(last.body.refresh_token_expires_in).toBe(0)
    t.clock.set(s0.expiresAt)
    expectOAuthError(
      await refresh(t, last.body.refresh_token, {}, 'short-app'),
      400,
      'invalid_grant',
      NO_LONGER_VALID,
    )
    expect(await sessionOf(t, a.sid)).toMatchObject({
      state: 'expired',
      reason: 'absolute_lifetime',
    })
    expect(await isActive(t, last.body.access_token)).toBe(false)
  })

  /** What introspection tells short-app's own view (a public client cannot call it). */
  async function introspect(token: string): Promise<{ active: boolean; exp: number }> {
    const r = (await judge(t, token)) as { active: boolean; exp: number }
    expect(r.active).toBe(true)
    return r
  }

  describe('RT-13 refresh after logout, password change, or account disable/delete', () => {
    const cases: {
      name: string
      act: (u: UserRecord, sid: string) => Promise<unknown>
      state: string
      reason: string
    }[] = [
      {
        name: 'the user is disabled',
        act: (u) => t.store.updateUser({ ...u, disabled: true }),
        state: 'revoked',
        reason: 'user_disabled',
      },
      {
        name: 'the user is deleted',
        act: (u) => t.store.deleteUser(u.id),
        state: 'revoked',
        reason: 'user_deleted',
      },
      {
        name: 'the password changed after sign-in',
        act: (u) => t.store.updateUser({ ...u, passwordChangedAt: t.clock.now() }),
        state: 'revoked',
        reason: 'password_change',
      },
      {
        name: 'the user signed out (store.endSessions)',
        act: (u) => t.store.endSessions({ userId: u.id }, 'ended', 'sign_out', t.clock.now()),
        state: 'ended',
        reason: 'sign_out',
      },
    ]
    let n = 0
    it.each(cases)('RT-13 $name: invalid_grant, the session ends', async (c) => {
      const u = await t.createUser(`rt13-${n++}`)
      const a = await signIn(u)
      const r1 = await refresh(t, a.rt)
      expect(r1.status).toBe(200)
      t.clock.advance(1000)
      await c.act(u, a.sid)
      const before = dbCounts(t)
      expectOAuthError(
        await refresh(t, r1.body.refresh_token),
        400,
        'invalid_grant',
        NO_LONGER_VALID,
      )
      // The previous token inside its grace window is refused the same way.
      expectOAuthError(await refresh(t, a.rt), 400, 'invalid_grant', NO_LONGER_VALID)
      expect(dbCounts(t).sessions).toBe(before.sessions)
      expect(await sessionOf(t, a.sid)).toMatchObject({ state: c.state, reason: c.reason })
      if (c.state === 'revoked') {
        // Caught by the refresh, with its event (the user changed directly in the store).
        const events = await t.store.listEvents({ sessionId: a.sid, type: 'session_revoked' })
        expect(events.map((e) => e.data)).toEqual([{ reason: c.reason, by: 'refresh' }])
      }
      expect(await isActive(t, r1.body.access_token)).toBe(false)
      expect((await userinfo(t, r1.body.access_token)).status).toBe(401)
    })

    it('RT-13 a password change at the very moment of sign-in does not end the session', async () => {
      const u = await t.createUser(`rt13-${n++}`)
      const a = await signIn(u)
      const s = await sessionOf(t, a.sid)
      await t.store.updateUser({ ...u, passwordChangedAt: s.createdAt })
      const r1 = await refresh(t, a.rt)
      expect(r1.status).toBe(200)
      expect(sidOf(r1.body.refresh_token)).toBe(a.sid)
      expect(await sessionOf(t, a.sid)).toMatchObject({ state: 'active', generation: 1 })
      expect((await userinfo(t, r1.body.access_token)).body.sub).toBe(u.id)
      // One millisecond later, the change does end it: the access token is refused at once.
      await t.store.updateUser({ ...u, passwordChangedAt: s.createdAt + 1 })
      const refused = await userinfo(t, a.at)
      expect(refused.status).toBe(401)
      expect(refused.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"',
      )
      expect(await isActive(t, r1.body.access_token)).toBe(false)
    })
  })

  it('RT-15 the ID token of a refresh keeps iss, sub, aud, azp, auth_time and sid, with a new iat', async () => {
    const a = await signIn(alice, { nonce: 'n-RT15' })
    const jwks = jwksOf(t)
    const verify = (tok: string) =>
      jwtVerify(tok, jwks, {
        issuer: t.url,
        audience: 'web-app',
        typ: 'JWT',
        currentDate: new Date(t.clock.now()),
      })
    const first = (await verify(a.idToken)).payload
    expect(first.nonce).toBe('n-RT15')
    t.clock.advance(120_000)
    const r = await refresh(t, a.rt, { resource: API_A })
    expect(r.status).toBe(200)
    const second = (await verify(r.body.id_token)).payload
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time', 'sid'] as const) {
      expect([claim, second[claim]]).toEqual([claim, first[claim]])
    }
    expect(second.iat).toBe(first.iat! + 120)
    expect(second.exp).toBe(second.iat! + 3600)
    // OIDC Core 12.2 (errata 2): the nonce may be absent; if present it is the original one.
    // Tessera leaves it out of a refreshed ID token.
    expect(second.nonce).toBeUndefined()
    // at_hash binds the new ID token to the access token returned beside it.
    expect(second.at_hash).toEqual(expect.any(String))
    expect(second.at_hash).not.toBe(first.at_hash)
  })
})
