import { describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, mintCode, postForm, sessionOf, codeForm } from '../helpers/grants.js'
import { CONFIDENTIAL_SECRET, type TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  isActive,
  refresh,
  sidOf,
  useTokenServer,
  tokenEndpoint,
  userinfo,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

type Minted = Awaited<ReturnType<typeof mintCode>>

function redeem(
  c: Minted,
  over: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const form: Record<string, string> = {
    ...codeForm(c),
    ...over,
  }
  for (const [k, v] of Object.entries(form)) if (v === '\u0000omit') delete form[k]
  return postForm(tokenEndpoint(t), form, headers)
}
const OMIT = '\u0000omit'

describe('authorization codes at the token endpoint', () => {
  it('CODE-01 redeeming a code twice, immediately, is 400 JSON invalid_grant', async () => {
    const c = await mintCode(t, alice)
    const first = await redeem(c)
    expect(first.status).toBe(200)
    const second = await redeem(c)
    expectOAuthError(second, 400, 'invalid_grant', 'the authorization code has already been used')
    expect(second.body.access_token).toBeUndefined()
  })

  it('CODE-02 a replay after 30 s revokes what the first redemption issued', async () => {
    const c = await mintCode(t, alice)
    const first = await redeem(c)
    expect(first.status).toBe(200)
    const { access_token: at, refresh_token: rt } = first.body
    const sid = sidOf(rt)
    expect((await userinfo(t, at)).status).toBe(200)
    expect(await isActive(t, at)).toBe(true)

    t.clock.advance(30_000)
    const before = dbCounts(t)
    const replay = await redeem(c)
    expectOAuthError(replay, 400, 'invalid_grant', 'the authorization code has already been used')
    // No new session; the first one is revoked for code reuse, with a security event.
    expect(dbCounts(t).sessions).toBe(before.sessions)
    const s = await sessionOf(t, sid)
    expect(s).toMatchObject({ state: 'revoked', reason: 'code_reuse', endedAt: t.clock.now() })
    const events = await t.store.listEvents({ sessionId: sid, type: 'code_reuse' })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ userId: alice.id, clientId: 'web-app', ip: '127.0.0.1' })

    // The first access token gets 401 at userinfo and introspects inactive ...
    const ui = await userinfo(t, at)
    expect(ui.status).toBe(401)
    expect(ui.headers.get('www-authenticate')).toMatch(/error="invalid_token"/)
    expect(await isActive(t, at)).toBe(false)
    // ... and the first refresh token is dead.
    expectOAuthError(
      await refresh(t, rt),
      400,
      'invalid_grant',
      'the refresh token is no longer valid',
    )
    expect(await isActive(t, rt)).toBe(false)
  })

  it('CODE-02 a replay also revokes the tokens a refresh made from the first redemption', async () => {
    const c = await mintCode(t, alice)
    const first = await redeem(c)
    const r1 = await refresh(t, first.body.refresh_token)
    expect(r1.status).toBe(200)
    t.clock.advance(30_000)
    expect((await redeem(c)).status).toBe(400)
    expect(await isActive(t, r1.body.access_token)).toBe(false)
    expect((await refresh(t, r1.body.refresh_token)).status).toBe(400)
  })

  const badReplays: {
    name: string
    over: Record<string, string>
    headers?: Record<string, string>
    status: number
    error: string
    desc: string
  }[] = [
    {
      name: 'a wrong code_verifier',
      over: { code_verifier: 'x'.repeat(43) },
      status: 400,
      error: 'invalid_grant',
      desc: 'code_verifier does not match the code_challenge',
    },
    {
      name: 'no code_verifier',
      over: { code_verifier: OMIT },
      status: 400,
      error: 'invalid_grant',
      desc: 'code_verifier is required',
    },
    {
      name: 'another public client',
      over: { client_id: 'other-app' },
      status: 400,
      error: 'invalid_grant',
      desc: 'the authorization code is invalid',
    },
    {
      name: 'a wrong redirect_uri',
      over: { redirect_uri: 'https://app.example.test/other' },
      status: 400,
      error: 'invalid_grant',
      desc: 'redirect_uri does not match the authorization request',
    },
  ]

  it.each(badReplays)(
    'CODE-03 a replay with $name is rejected and the earlier tokens are NOT revoked',
    async ({ over, headers, status, error, desc }) => {
      const c = await mintCode(t, alice)
      const first = await redeem(c)
      expect(first.status).toBe(200)
      t.clock.advance(30_000)
      const before = dbCounts(t)
      expectOAuthError(await redeem(c, over, headers), status, error, desc)
      expect(dbCounts(t)).toEqual(before)
      const s = await sessionOf(t, sidOf(first.body.refresh_token))
      expect(s.state).toBe('active')
      expect(await isActive(t, first.body.access_token)).toBe(true)
      expect((await userinfo(t, first.body.access_token)).status).toBe(200)
      expect((await refresh(t, first.body.refresh_token)).status).toBe(200)
    },
  )

  it('CODE-03 a replay of a confidential client code with bad client authentication revokes nothing', async () => {
    const c = await mintCode(t, alice, { clientId: 'confidential-app' })
    const form = {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      redirect_uri: c.redirectUri,
    }
    const first = await postForm(tokenEndpoint(t), form, confidentialAuth())
    expect(first.status).toBe(200)
    t.clock.advance(30_000)
    const before = dbCounts(t)
    const cases: [Record<string, string>, Record<string, string>, string][] = [
      [
        form,
        basicAuth('confidential-app', CONFIDENTIAL_SECRET + 'x'),
        'client authentication failed',
      ],
      [{ ...form, client_id: 'confidential-app' }, {}, 'client authentication is required'],
    ]
    for (const [body, headers, desc] of cases) {
      expectOAuthError(await postForm(tokenEndpoint(t), body, headers), 401, 'invalid_client', desc)
    }
    expect(dbCounts(t)).toEqual(before)
    expect((await sessionOf(t, sidOf(first.body.refresh_token))).state).toBe('active')
    expect(await isActive(t, first.body.access_token)).toBe(true)
  })

  it("CODE-04 client B redeeming client A's code is invalid_grant; A can still redeem it", async () => {
    const c = await mintCode(t, alice, { clientId: 'web-app' })
    const before = dbCounts(t)
    expectOAuthError(
      await redeem(c, {
        client_id: 'other-app',
        redirect_uri: 'https://other.example.test/callback',
      }),
      400,
      'invalid_grant',
      'the authorization code is invalid',
    )
    expectOAuthError(
      await redeem(c, { client_id: OMIT }, confidentialAuth()),
      400,
      'invalid_grant',
      'the authorization code is invalid',
    )
    expect(dbCounts(t)).toEqual(before)
    expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
    expect((await redeem(c)).status).toBe(200)
  })

  it('CODE-05 a code redeems 1 ms before its 60 s lifetime ends and is invalid_grant at exactly 60 s', async () => {
    const early = await mintCode(t, alice)
    const late = await mintCode(t, alice)
    t.clock.advance(60_000 - 1)
    expect((await redeem(early)).status).toBe(200)
    t.clock.advance(1)
    const before = dbCounts(t)
    expectOAuthError(await redeem(late), 400, 'invalid_grant', 'the authorization code has expired')
    t.clock.advance(3600_000)
    expectOAuthError(await redeem(late), 400, 'invalid_grant', 'the authorization code has expired')
    expect(dbCounts(t)).toEqual(before)
  })

  // RFC 6749 4.1.2: a code used more than once SHOULD revoke what it issued, with no time limit;
  // consumed codes are kept 24 h past expiry so a late replay is still recognised.
  it('CODE-02 a replay after the code lifetime still revokes the first redemption', async () => {
    const c = await mintCode(t, alice)
    const first = await redeem(c)
    expect(first.status).toBe(200)
    t.clock.advance(61_000)
    expectOAuthError(
      await redeem(c),
      400,
      'invalid_grant',
      'the authorization code has already been used',
    )
    expect(await sessionOf(t, sidOf(first.body.refresh_token))).toMatchObject({
      state: 'revoked',
      reason: 'code_reuse',
    })
  })

  it('CODE-05 the server-wide code lifetime is at most 60 s', () => {
    expect(t.server.ctx.config.codeTtlSeconds).toBeLessThanOrEqual(60)
  })

  const redirects = [
    ['a trailing slash', 'https://app.example.test/callback/'],
    ['another registered URI of the client', 'https://app.example.test/other'],
    ['different case in the path', 'https://app.example.test/Callback'],
    ['different case in the host', 'https://APP.example.test/callback'],
    ['an added query', 'https://app.example.test/callback?x=1'],
    ['an added fragment', 'https://app.example.test/callback#x'],
    ['an explicit default port', 'https://app.example.test:443/callback'],
    ['http instead of https', 'http://app.example.test/callback'],
  ] as const

  it.each(redirects)(
    'CODE-06 redirect_uri with %s at the token endpoint is invalid_grant and burns nothing',
    async (_name, uri) => {
      const c = await mintCode(t, alice)
      const before = dbCounts(t)
      expectOAuthError(
        await redeem(c, { redirect_uri: uri }),
        400,
        'invalid_grant',
        'redirect_uri does not match the authorization request',
      )
      expect(dbCounts(t)).toEqual(before)
      expect((await redeem(c)).status).toBe(200)
    },
  )

  it('an unknown code is invalid_grant and writes nothing', async () => {
    const before = dbCounts(t)
    const c = await mintCode(t, alice)
    const after = dbCounts(t)
    expect(after.codes).toBe(before.codes + 1)
    expectOAuthError(
      await redeem({ ...c, code: 'A'.repeat(43) }),
      400,
      'invalid_grant',
      'the authorization code is invalid',
    )
    expect(dbCounts(t)).toEqual(after)
  })

  it('a refresh token is issued whenever the client has the refresh_token grant, offline_access or not', async () => {
    const c = await mintCode(t, alice, { scope: 'openid' })
    const r = await redeem(c)
    expect(r.status).toBe(200)
    expect(r.body.refresh_token).toMatch(/^tsr_/)
    expect(r.body.refresh_token_expires_in).toBe(14 * 86_400)

    const c2 = await mintCode(t, alice, {
      clientId: 'code-only-app',
      scope: 'openid offline_access',
    })
    const r2 = await redeem(c2)
    expect(r2.status).toBe(200)
    expect(r2.body.refresh_token).toBeUndefined()
    expect(r2.body.refresh_token_expires_in).toBeUndefined()
    expect(r2.body.access_token).toEqual(expect.any(String))
  })

  it('a disabled user cannot redeem a code issued before the disable', async () => {
    const bob = await t.createUser('bob')
    const c = await mintCode(t, bob)
    await t.store.updateUser({ ...bob, disabled: true })
    const before = dbCounts(t)
    expectOAuthError(await redeem(c), 400, 'invalid_grant', 'the user is not allowed to sign in')
    expect(dbCounts(t)).toEqual(before)
  })
})
