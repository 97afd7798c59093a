import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RefreshTokenCodec } from '../../src/tokens/refresh-token.js'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, mintCode, postForm, sessionOf, signInTokens } from '../helpers/grants.js'
import { API_A, CONFIDENTIAL_SECRET, TEST_SECRET, type TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  isActive,
  NO_LONGER_VALID,
  refresh,
  sidOf,
  POST_SECRET,
  startTokenServer,
  userinfo,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startTokenServer()
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
})

function revoke(
  token: string,
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  return postForm(`${t.url}/oauth/revoke`, { token, ...extra }, headers)
}

/** A session with an issuer AT, an API AT from a refresh, and its current RT. */
async function grant(): Promise<{ sid: string; first: string; rt: string; ats: string[] }> {
  const s = await signInTokens(t, alice)
  expect(s.status).toBe(200)
  const r = await refresh(t, s.body.refresh_token, { resource: API_A })
  expect(r.status).toBe(200)
  return {
    sid: sidOf(s.body.refresh_token),
    first: s.body.refresh_token,
    rt: r.body.refresh_token,
    ats: [s.body.access_token, r.body.access_token],
  }
}

async function expectGrantDead(g: Awaited<ReturnType<typeof grant>>): Promise<void> {
  expectOAuthError(await refresh(t, g.rt), 400, 'invalid_grant', NO_LONGER_VALID)
  expect(await isActive(t, g.rt)).toBe(false)
  for (const at of g.ats) expect(await isActive(t, at)).toBe(false)
  expect((await userinfo(t, g.ats[0]!)).status).toBe(401)
}

describe('token revocation (RFC 7009)', () => {
  it('SES-08 revoking a refresh token makes it and every access token of the grant invalid', async () => {
    const g = await grant()
    for (const at of g.ats) expect(await isActive(t, at)).toBe(true)
    const r = await revoke(g.rt, { client_id: 'web-app', token_type_hint: 'refresh_token' })
    expect(r.status).toBe(200)
    expect(r.body).toBe('')
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(await sessionOf(t, g.sid)).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
      endedAt: t.clock.now(),
    })
    const events = await t.store.listEvents({ sessionId: g.sid, type: 'token_revoked' })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ userId: alice.id, clientId: 'web-app', ip: '127.0.0.1' })
    await expectGrantDead(g)
    // Revoking again is a no-op 200.
    expect((await revoke(g.rt, { client_id: 'web-app' })).status).toBe(200)
  })

  it('SES-08 revoking with a wrong token_type_hint still revokes (the hint is only a hint)', async () => {
    const g = await grant()
    expect(
      (await revoke(g.rt, { client_id: 'web-app', token_type_hint: 'access_token' })).status,
    ).toBe(200)
    await expectGrantDead(g)
  })

  it('SES-08 revoking the previous generation inside the grace window revokes the family', async () => {
    const g = await grant()
    expect((await revoke(g.first, { client_id: 'web-app' })).status).toBe(200)
    await expectGrantDead(g)
  })

  it('SES-08 a confidential client revokes its own refresh token after authenticating', async () => {
    const c = await mintCode(t, alice, { clientId: 'confidential-app' })
    const s = await postForm(
      `${t.url}/oauth/token`,
      {
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: c.redirectUri,
      },
      confidentialAuth(),
    )
    const rt = s.body.refresh_token as string
    // Without authentication: 401, nothing revoked.
    expectOAuthError(
      await revoke(rt, { client_id: 'confidential-app' }),
      401,
      'invalid_client',
      'client authentication is required',
    )
    const bad = await revoke(rt, {}, basicAuth('confidential-app', 'wrong'))
    expectOAuthError(bad, 401, 'invalid_client', 'client authentication failed')
    expect(bad.headers.get('www-authenticate')).toBe('Basic realm="tessera", charset="UTF-8"')
    expect((await sessionOf(t, sidOf(rt))).state).toBe('active')
    expect((await revoke(rt, {}, basicAuth('confidential-app', CONFIDENTIAL_SECRET))).status).toBe(
      200,
    )
    expect((await sessionOf(t, sidOf(rt))).state).toBe('revoked')
  })

  it("SES-08/SES-10 a public client sending another client's refresh token gets 200 and revokes nothing", async () => {
    const g = await grant()
    const before = dbCounts(t)
    const r = await revoke(g.rt, { client_id: 'other-app' })
    expect([r.status, r.body]).toStrictEqual([200, ''])
    expect(dbCounts(t)).toEqual(before)
    expect((await sessionOf(t, g.sid)).state).toBe('active')
    expect((await refresh(t, g.rt)).status).toBe(200)
  })

  // RFC 7009 2.1: the server "verifies whether the token was issued to the client making the
  // revocation request. If this validation fails, the request is refused".
  it("RFC 7009 2.1 a confidential client revoking another client's token gets unauthorized_client and revokes nothing", async () => {
    const g = await grant()
    const previous = g.first
    const before = dbCounts(t)
    const session = await sessionOf(t, g.sid)
    const foreign = [
      ['the current refresh token', g.rt, {}],
      ['an older refresh token of the family', previous, {}],
      ['an access token', g.ats[0]!, {}],
      ['an API access token, with a hint', g.ats[1]!, { token_type_hint: 'access_token' }],
    ] as const
    for (const [name, token, extra] of foreign) {
      for (const auth of [
        confidentialAuth(),
        // client_secret_post authenticates the same way and gets the same answer.
        {},
      ]) {
        const r = await revoke(
          token,
          'authorization' in auth
            ? extra
            : { ...extra, client_id: 'post-app', client_secret: POST_SECRET },
          auth,
        )
        expect([name, r.status, r.body]).toStrictEqual([
          name,
          400,
          {
            error: 'unauthorized_client',
            error_description: 'the token was not issued to this client',
          },
        ])
        expect(r.headers.get('cache-control')).toBe('no-store')
      }
    }
    expect(dbCounts(t)).toEqual(before)
    expect(await sessionOf(t, g.sid)).toStrictEqual(session)
    expect((await refresh(t, g.rt)).status).toBe(200)
  })

  it('a confidential client still gets unsupported_token_type for its own access token', async () => {
    const c = await mintCode(t, alice, { clientId: 'confidential-app' })
    const s = await postForm(
      `${t.url}/oauth/token`,
      {
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: c.redirectUri,
      },
      confidentialAuth(),
    )
    expectOAuthError(
      await revoke(s.body.access_token as string, {}, confidentialAuth()),
      400,
      'unsupported_token_type',
      'access tokens cannot be revoked one by one; revoke the refresh token to end the session',
    )
    expect((await sessionOf(t, sidOf(s.body.refresh_token as string))).state).toBe('active')
  })

  it('SES-08 revoking without client identification is 401 and revokes nothing', async () => {
    const g = await grant()
    expectOAuthError(await revoke(g.rt), 401, 'invalid_client', 'client authentication is required')
    expect((await sessionOf(t, g.sid)).state).toBe('active')
  })

  const garbage: [string, () => Promise<string>][] = [
    ['random text', () => Promise.resolve('not-a-token')],
    ['a refresh-token prefix only', () => Promise.resolve('tsr_')],
    ['an unknown session id', () => Promise.resolve(`tsr_${'A'.repeat(22)}.0.${'B'.repeat(43)}`)],
    [
      'a tampered MAC of a live token',
      async () => {
        const g = await grant()
        return g.rt.slice(0, -2) + (g.rt.endsWith('AA') ? 'BB' : 'AA')
      },
    ],
    [
      'a token minted with another server secret',
      async () => {
        const g = await grant()
        const s = await sessionOf(t, g.sid)
        return new RefreshTokenCodec(Buffer.from(`x${TEST_SECRET}`)).encode(g.sid, 1, s.salt)
      },
    ],
    ['16 KB of text', () => Promise.resolve('g'.repeat(16_384))],
    ['an authorization code', () => Promise.resolve('Q'.repeat(43))],
  ]

  it.each(garbage)('SES-10 revoking %s gets 200 and changes nothing', async (_name, make) => {
    const token = await make()
    const before = dbCounts(t)
    const r = await revoke(token, { client_id: 'web-app' })
    expect(r.status).toBe(200)
    expect(dbCounts(t)).toEqual(before)
  })

  // RFC 7009 2.2: invalid tokens do not cause an error response, and the module's own doc says
  // malformed or foreign tokens get 200. A string merely shaped like a JWT (three dot-separated
  // parts starting with `ey`) that we did not sign is an unknown token too.
  const jwtShaped: [string, string][] = [
    ['a JWT-shaped garbage string', 'eyJnYXJiYWdl.eyJ9.x'],
    [
      'an unsigned (alg none) JWT',
      `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.`,
    ],
  ]
  it.each(jwtShaped)('SES-10 revoking %s gets 200 and changes nothing', async (_name, token) => {
    const before = dbCounts(t)
    const r = await revoke(token, { client_id: 'web-app' })
    expect(r.status).toBe(200)
    expect(r.body).toBe('')
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(dbCounts(t)).toEqual(before)
  })

  it('our own access token cannot be revoked alone: unsupported_token_type, the session lives on', async () => {
    const g = await grant()
    expectOAuthError(
      await revoke(g.ats[0]!, { client_id: 'web-app', token_type_hint: 'access_token' }),
      400,
      'unsupported_token_type',
      'access tokens cannot be revoked one by one; revoke the refresh token to end the session',
    )
    expect((await sessionOf(t, g.sid)).state).toBe('active')
  })

  it('revocation input errors are RFC 6749 JSON', async () => {
    expectOAuthError(
      await postForm(`${t.url}/oauth/revoke`, { client_id: 'web-app' }),
      400,
      'invalid_request',
      'missing required parameter token',
    )
    expectOAuthError(
      await postForm(`${t.url}/oauth/revoke`, { token: ['a', 'b'], client_id: 'web-app' }),
      400,
      'invalid_request',
      'parameter token is included more than once',
    )
    expectOAuthError(
      await postForm(`${t.url}/oauth/revoke?token=x`, { token: 'x', client_id: 'web-app' }),
      400,
      'invalid_request',
      'token must not be sent in the URL',
    )
  })
})

describe('SES-04 logout and revocation, token side', () => {
  it('SES-04 after store.endSessions for the browser session, its RTs are invalid and ATs inactive', async () => {
    const bsid = 'bs-ses04-' + String(t.clock.now())
    const web = await signInTokens(t, alice, { browserSessionId: bsid })
    const native = await signInTokens(t, alice, {
      clientId: 'native-app',
      scope: 'openid offline_access read',
      browserSessionId: bsid,
    })
    const elsewhere = await signInTokens(t, alice, { browserSessionId: 'bs-other' })
    for (const r of [web, native, elsewhere]) expect(r.status).toBe(200)

    const ended = await t.store.endSessions(
      { browserSessionId: bsid },
      'ended',
      'sign_out',
      t.clock.now(),
    )
    expect(ended.sort()).toEqual(
      [sidOf(web.body.refresh_token), sidOf(native.body.refresh_token)].sort(),
    )
    for (const [r, clientId] of [
      [web, 'web-app'],
      [native, 'native-app'],
    ] as const) {
      expect(await sessionOf(t, sidOf(r.body.refresh_token))).toMatchObject({
        state: 'ended',
        reason: 'sign_out',
      })
      expectOAuthError(
        await refresh(t, r.body.refresh_token, {}, clientId),
        400,
        'invalid_grant',
        NO_LONGER_VALID,
      )
      expect(await isActive(t, r.body.refresh_token)).toBe(false)
      expect(await isActive(t, r.body.access_token)).toBe(false)
      const ui = await userinfo(t, r.body.access_token)
      expect(ui.status).toBe(401)
      expect(ui.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid or expired"',
      )
    }
    // A session of another browser session is untouched.
    expect(await isActive(t, elsewhere.body.access_token)).toBe(true)
    expect((await refresh(t, elsewhere.body.refresh_token)).status).toBe(200)
  })

  it('SES-04 after revocation the RTs are invalid, ATs inactive and 401 at userinfo', async () => {
    const g = await grant()
    expect((await revoke(g.rt, { client_id: 'web-app' })).status).toBe(200)
    await expectGrantDead(g)
    expectOAuthError(await refresh(t, g.first), 400, 'invalid_grant', NO_LONGER_VALID)
  })
})
