import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import {
  basicAuth,
  codeForm,
  mintCode,
  postFormFrom,
  sessionOf,
  signInTokens,
} from '../helpers/grants.js'
import { CONFIDENTIAL_SECRET, startTestServer, type TestServer } from '../helpers/test-server.js'
import { dbCounts, expectOAuthError, POST_SECRET, sidOf, tokenClients } from './fixtures.js'

/**
 * Failure throttles at the token endpoint. Distinct client addresses are real: requests leave
 * from different loopback source addresses (127.0.0.0/8), so no proxy header is needed for REL-12.
 */

const WINDOW = 60
const PER_IP = 5
const PER_CLIENT = 8

function server(extra: { trustProxy?: string[] } = {}): Promise<TestServer> {
  return startTestServer({
    clients: tokenClients,
    config: {
      ...extra,
      throttle: {
        invalidGrantPerIp: { limit: PER_IP, windowSeconds: WINDOW },
        invalidGrantPerClient: { limit: PER_CLIENT, windowSeconds: WINDOW },
        clientAuthPerClient: { limit: PER_CLIENT, windowSeconds: WINDOW },
      },
    },
  })
}

const bogusRt = (i: number) => `tsr_${'A'.repeat(22)}.${i}.${'B'.repeat(43)}`
const TOO_MANY = 'too many failed attempts, retry later'

describe('REL-12 failure floods are throttled per IP and per client', () => {
  let t: TestServer
  let alice: UserRecord
  beforeAll(async () => {
    t = await server()
    alice = await t.createUser('alice')
  })
  afterAll(async () => {
    await t.close()
  })

  const from = (ip: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    postFormFrom(ip, `${t.url}/oauth/token`, form, headers)
  const refreshFrom = (ip: string, rt: string, clientId = 'web-app') =>
    from(ip, { grant_type: 'refresh_token', refresh_token: rt, client_id: clientId })

  it('REL-12 invalid refresh tokens and codes from one IP get 429 + Retry-After after the threshold; another IP is unaffected', async () => {
    const live = await signInTokens(t, alice)
    expect(live.status).toBe(200)
    const start = t.clock.now()
    expect(start % (WINDOW * 1000)).toBe(0)
    // PER_IP failures, mixing bad refresh tokens and bad codes: each an honest invalid_grant.
    const c = await mintCode(t, alice)
    for (let i = 0; i < PER_IP; i++) {
      const r =
        i % 2 === 0
          ? await refreshFrom('127.0.0.2', bogusRt(i))
          : await from('127.0.0.2', {
              grant_type: 'authorization_code',
              code: `bogus-code-${i}`,
              code_verifier: c.verifier,
              client_id: 'web-app',
            })
      expect(r.status).toBe(400)
      expect(r.body.error).toBe('invalid_grant')
    }
    const before = dbCounts(t)
    const limited = await refreshFrom('127.0.0.2', bogusRt(99))
    expectOAuthError(limited, 429, 'temporarily_unavailable', TOO_MANY)
    expect(limited.headers.get('retry-after')).toBe(String(WINDOW))
    // Over the threshold, the IP gets nothing, not even with a valid token; nothing is written.
    expect((await refreshFrom('127.0.0.2', live.body.refresh_token)).status).toBe(429)
    expect(dbCounts(t)).toEqual(before)
    expect((await sessionOf(t, sidOf(live.body.refresh_token))).generation).toBe(0)

    // Another IP is unaffected: its failures are its own, its valid refresh works.
    const other = await refreshFrom('127.0.0.3', bogusRt(1))
    expectOAuthError(other, 400, 'invalid_grant', 'the refresh token is invalid')
    const ok = await refreshFrom('127.0.0.3', live.body.refresh_token)
    expect(ok.status).toBe(200)

    // The window is fixed: 1 ms before its end still 429 (Retry-After 1), at its end free again.
    t.clock.set(start + WINDOW * 1000 - 1)
    const late = await refreshFrom('127.0.0.2', bogusRt(100))
    expect(late.status).toBe(429)
    expect(late.headers.get('retry-after')).toBe('1')
    t.clock.set(start + WINDOW * 1000)
    expect((await refreshFrom('127.0.0.2', ok.body.refresh_token)).status).toBe(200)
  })

  it('REL-12 bad client secrets for the confidential client get 429 per IP, then per client; the right secret still authenticates; other clients are unaffected', async () => {
    t.clock.advance(WINDOW * 1000)
    const form = { grant_type: 'client_credentials', resource: 'https://api-a.example.test' }
    const wrong = basicAuth('confidential-app', `${CONFIDENTIAL_SECRET}-wrong`)
    const right = basicAuth('confidential-app', CONFIDENTIAL_SECRET)
    for (let i = 0; i < PER_IP; i++) {
      const r = await from('127.0.0.4', form, wrong)
      expectOAuthError(r, 401, 'invalid_client', 'client authentication failed')
    }
    const limited = await from('127.0.0.4', form, wrong)
    expectOAuthError(limited, 429, 'temporarily_unavailable', TOO_MANY)
    expect(limited.headers.get('retry-after')).toEqual(expect.stringMatching(/^[1-9][0-9]*$/))
    // DOS-01: the right secret is checked first and authenticates, from the flooding IP too
    // (a secret of >= 32 characters cannot be guessed, so this is no oracle).
    expect((await from('127.0.0.4', form, right)).status).toBe(200)
    expect((await from('127.0.0.5', form, right)).status).toBe(200)
    // Wrong secrets from several IPs reach the per-client count: then every wrong secret gets 429.
    for (let i = PER_IP; i < PER_CLIENT; i++) {
      expect((await from('127.0.0.6', form, wrong)).status).toBe(401)
    }
    const perClient = await from('127.0.0.7', form, wrong)
    expectOAuthError(perClient, 429, 'temporarily_unavailable', TOO_MANY)
    expect((await from('127.0.0.7', form, right)).status).toBe(200)
    // Another client, from an IP with a clean record, is unaffected.
    const post = await from('127.0.0.7', {
      grant_type: 'refresh_token',
      refresh_token: bogusRt(0),
      client_id: 'post-app',
      client_secret: POST_SECRET,
    })
    expectOAuthError(post, 400, 'invalid_grant', 'the refresh token is invalid')
  })

  it('DOS-01 wrong secrets for one client id from many addresses: the right secret still authenticates at /oauth/token and /oauth/revoke; the sources get 429', async () => {
    t.clock.advance(WINDOW * 1000)
    const c = await mintCode(t, alice, { clientId: 'confidential-app', scope: 'openid read' })
    const right = basicAuth('confidential-app', CONFIDENTIAL_SECRET)
    const live = await from('127.0.4.200', codeForm(c), right)
    expect(live.status).toBe(200)
    const form = { grant_type: 'client_credentials', resource: 'https://api-a.example.test' }
    const wrong = basicAuth('confidential-app', `${CONFIDENTIAL_SECRET}-wrong`)
    // The attack: PER_CLIENT * 3 wrong secrets from 24 addresses, each under its own IP limit.
    let refused = 0
    for (let n = 0; n < PER_CLIENT * 3; n++) {
      const ip = `127.0.4.${10 + n}`
      const r =
        n % 2
          ? await from(ip, form, wrong)
          : await postFormFrom(ip, `${t.url}/oauth/revoke`, { token: bogusRt(n) }, wrong)
      if (n < PER_CLIENT) {
        expectOAuthError(r, 401, 'invalid_client', 'client authentication failed')
      } else {
        expectOAuthError(r, 429, 'temporarily_unavailable', TOO_MANY)
        refused++
      }
    }
    expect(refused).toBe(PER_CLIENT * 2)
    // The owner, from its own address and from one the attack used.
    for (const ip of ['127.0.4.200', '127.0.4.10']) {
      const token = await from(ip, form, right)
      expect(token.status).toBe(200)
      expect(token.body.token_type).toBe('Bearer')
    }
    const revoked = await postFormFrom(
      '127.0.4.200',
      `${t.url}/oauth/revoke`,
      { token: live.body.refresh_token },
      right,
    )
    expect(revoked.status).toBe(200)
    expect((await sessionOf(t, sidOf(live.body.refresh_token))).state).toBe('revoked')
    // The attempts refused with 429 were not counted.
    expect(await t.store.throttleCount('client-auth:confidential-app', t.clock.now(), WINDOW)).toBe(
      PER_CLIENT,
    )
  })

  it('REL-12 guessing client ids (unknown clients) is throttled per IP', async () => {
    t.clock.advance(WINDOW * 1000)
    for (let i = 0; i < PER_IP; i++) {
      const r = await from(
        '127.0.0.8',
        { grant_type: 'client_credentials' },
        basicAuth(`guess-${i}`, 'x'.repeat(40)),
      )
      expect(r.status).toBe(401)
    }
    const r = await from(
      '127.0.0.8',
      { grant_type: 'client_credentials' },
      basicAuth('another-guess', 'x'.repeat(40)),
    )
    expectOAuthError(r, 429, 'temporarily_unavailable', TOO_MANY)
    // A client that authenticates is not held to the guesses made from its address (DOS-01).
    const ok = await from(
      '127.0.0.8',
      { grant_type: 'client_credentials', resource: 'https://api-a.example.test' },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expect(ok.status).toBe(200)
  })

  it('REL-12 a flood of unknown client ids from one IP itself gets 429 after the threshold', async () => {
    t.clock.advance(WINDOW * 1000)
    for (let i = 0; i < PER_IP; i++) {
      const r = await from(
        '127.0.0.9',
        { grant_type: 'client_credentials' },
        basicAuth(`guess-${i}`, 'x'.repeat(40)),
      )
      expect(r.status).toBe(401)
    }
    const r = await from(
      '127.0.0.9',
      { grant_type: 'client_credentials' },
      basicAuth('guess-next', 'x'.repeat(40)),
    )
    expectOAuthError(r, 429, 'temporarily_unavailable', TOO_MANY)
  })

  // Per-client limits apply to confidential clients, whose requests are authenticated: only the
  // client itself can spend its budget. A public client is never throttled as a whole, or anyone
  // could lock every user of the app out by flooding it with bad tokens from many addresses; its
  // floods are throttled per IP.
  it('REL-12 invalid codes for a confidential client from many IPs get 429 after the per-client threshold; other clients unaffected', async () => {
    t.clock.advance(WINDOW * 1000)
    let n = 0
    for (let ip = 10; n < PER_CLIENT; ip++) {
      for (let j = 0; j < 2 && n < PER_CLIENT; j++, n++) {
        const r = await from(
          `127.0.1.${ip}`,
          { grant_type: 'authorization_code', code: `bogus-${n}`, code_verifier: 'v'.repeat(43) },
          basicAuth('confidential-app', CONFIDENTIAL_SECRET),
        )
        expect(r.status).toBe(400)
      }
    }
    const r = await from(
      '127.0.1.99',
      { grant_type: 'client_credentials' },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expectOAuthError(r, 429, 'temporarily_unavailable', TOO_MANY)
    // Other clients are unaffected.
    const other = await refreshFrom('127.0.1.99', bogusRt(98), 'native-app')
    expect(other.status).toBe(400)
  })

  it('REL-12 a public client is not throttled as a whole: a distributed flood of bad refresh tokens leaves its users able to refresh', async () => {
    t.clock.advance(WINDOW * 1000)
    const live = await signInTokens(t, alice)
    for (let n = 0; n < PER_CLIENT * 3; n++) {
      expect((await refreshFrom(`127.0.2.${10 + (n % 20)}`, bogusRt(n))).status).toBe(400)
    }
    const ok = await refreshFrom('127.0.2.99', live.body.refresh_token)
    expect(ok.status).toBe(200)
  })
})

describe('TOK-09 X-Forwarded-For is honoured only from trusted proxies', () => {
  const count = (t: TestServer, ip: string) =>
    t.store.throttleCount(`grant-ip:${ip}`, t.clock.now(), WINDOW)
  const bad = (t: TestServer, xff?: string, source = '127.0.0.1') =>
    postFormFrom(
      source,
      `${t.url}/oauth/token`,
      { grant_type: 'refresh_token', refresh_token: bogusRt(0), client_id: 'web-app' },
      xff === undefined ? {} : { 'x-forwarded-for': xff },
    )

  it('TOK-09 without trustProxy a spoofed X-Forwarded-For is ignored: the peer address is counted', async () => {
    const t = await server()
    try {
      for (let i = 1; i <= PER_IP; i++) {
        expect((await bad(t, `198.51.100.${i}`)).status).toBe(400)
      }
      expect(await count(t, '127.0.0.1')).toBe(PER_IP)
      for (let i = 1; i <= PER_IP; i++) expect(await count(t, `198.51.100.${i}`)).toBe(0)
      // A fresh spoofed address does not dodge the limit.
      expect((await bad(t, '198.51.100.200')).status).toBe(429)
      expect((await bad(t, '198.51.100.201, 203.0.113.9')).status).toBe(429)
    } finally {
      await t.close()
    }
  })

  it('TOK-09 with trustProxy the client address behind the trusted hop is counted, and only it', async () => {
    const t = await server({ trustProxy: ['127.0.0.1'] })
    try {
      for (let i = 0; i < PER_IP; i++) expect((await bad(t, '198.51.100.1')).status).toBe(400)
      expect(await count(t, '198.51.100.1')).toBe(PER_IP)
      expect(await count(t, '127.0.0.1')).toBe(0)
      expect((await bad(t, '198.51.100.1')).status).toBe(429)
      // Another client behind the same proxy is unaffected.
      expect((await bad(t, '198.51.100.2')).status).toBe(400)
      // A client that prepends a spoofed hop is counted as the address the proxy saw (the
      // right-most untrusted hop), not as the spoofed one.
      expect((await bad(t, '198.51.100.50, 203.0.113.9')).status).toBe(400)
      expect(await count(t, '203.0.113.9')).toBe(1)
      expect(await count(t, '198.51.100.50')).toBe(0)
      // Trusted hops are skipped from the right.
      expect((await bad(t, '203.0.113.10, 127.0.0.1')).status).toBe(400)
      expect(await count(t, '203.0.113.10')).toBe(1)
      // A peer that is not a trusted proxy cannot use the header at all.
      expect((await bad(t, '198.51.100.3', '127.0.0.2')).status).toBe(400)
      expect(await count(t, '127.0.0.2')).toBe(1)
      expect(await count(t, '198.51.100.3')).toBe(0)
      // A garbage header from the trusted proxy falls back to the proxy's own address.
      expect((await bad(t, 'not-an-ip')).status).toBe(400)
      expect(await count(t, '127.0.0.1')).toBe(1)
    } finally {
      await t.close()
    }
  })
})
