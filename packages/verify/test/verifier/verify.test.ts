import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ExpiringLru } from '../../src/cache/expiring-lru.js'
import { isVerifyError } from '../../src/errors.js'
import { challenge } from '../../src/http/challenge.js'
import { TesseraVerifyError } from '../../src/errors.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import { FakeClock, NOW } from '../helpers/fake-clock.js'
import {
  AUDIENCE,
  makeIssuerKeys,
  startIssuer,
  type IssuerKeys,
  type TestIssuer,
} from '../helpers/test-issuer.js'

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (isVerifyError(err)) return `${err.code}: ${err.message}`
    throw err
  }
  return 'passed'
}

let keys: IssuerKeys
let issuer: TestIssuer | undefined
const servers: Server[] = []
beforeAll(() => {
  keys = makeIssuerKeys()
})
afterEach(async () => {
  await issuer?.close()
  issuer = undefined
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

/** A bare HTTP server answering paths from a table, for discovery variants. */
async function metadataServer(
  routes: (base: string) => Record<string, unknown>,
): Promise<{ url: string; hits: string[] }> {
  const hits: string[] = []
  let base = ''
  const server = createServer((req, res) => {
    hits.push(req.url ?? '')
    const body = routes(base)[req.url ?? '']
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(body ?? { error: 'not_found' }))
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { url: base, hits }
}

describe('discovery', () => {
  it('SDK-07 a discovery document naming another issuer is refused and no keys are fetched', async () => {
    issuer = await startIssuer(keys)
    issuer.metadata = { issuer: 'https://evil.example.test' }
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
    const err = await v.verify(await issuer.token()).catch((e: unknown) => e as TesseraVerifyError)
    expect(err).toBeInstanceOf(TesseraVerifyError)
    expect((err as TesseraVerifyError).code).toBe('jwks_unavailable')
    expect(((err as TesseraVerifyError).cause as Error).message).toBe(
      `the issuer in ${issuer.url}/.well-known/openid-configuration is not the configured issuer ${issuer.url} (RFC 8414 3.3)`,
    )
    expect(issuer.jwksHits()).toBe(0)
  })

  it('falls back to RFC 8414 oauth-authorization-server metadata, with the path inserted', async () => {
    issuer = await startIssuer(keys)
    const tenant = await metadataServer((base) => ({
      '/.well-known/oauth-authorization-server/tenant': {
        issuer: `${base}/tenant`,
        jwks_uri: `${(issuer as TestIssuer).url}/jwks`,
      },
    }))
    const token = issuer.raw(
      { alg: 'ES256', typ: 'at+jwt', kid: 'k-es256' },
      { iss: `${tenant.url}/tenant` },
    )
    const v = createVerifier({
      issuer: `${tenant.url}/tenant`,
      audience: AUDIENCE,
      clock: new FakeClock(),
    })
    expect((await v.verify(token)).claims.iss).toBe(`${tenant.url}/tenant`)
    expect(tenant.hits).toEqual([
      '/tenant/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/tenant',
    ])
  })

  it('a configured jwksUri skips discovery', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      jwksUri: `${issuer.url}/jwks`,
      clock: new FakeClock(),
    })
    await v.verify(await issuer.token())
    expect(issuer.hits.get('/.well-known/openid-configuration')).toBeUndefined()
    expect(issuer.jwksHits()).toBe(1)
  })
})

describe('timeout', () => {
  it('an issuer that accepts the connection and never answers: verify fails with jwks_unavailable once `timeout` has passed, naming the timeout', async () => {
    const hits: string[] = []
    const hanging = createServer((req) => {
      hits.push(req.url ?? '') // accepted, read, never answered
    })
    servers.push(hanging)
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`
    issuer = await startIssuer(keys)
    const token = issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es256' }, { iss: url })
    const v = createVerifier({
      issuer: url,
      audience: AUDIENCE,
      clock: new FakeClock(),
      timeout: 0.2,
    })
    const err = await v.verify(token).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TesseraVerifyError)
    expect((err as TesseraVerifyError).code).toBe('jwks_unavailable')
    // Both discovery locations were asked, and each was abandoned at the timeout.
    expect(hits).toEqual([
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
    ])
    expect(((err as TesseraVerifyError).cause as Error).message).toBe(
      'discovery failed: The operation was aborted due to timeout; The operation was aborted due to timeout',
    )
  })
})

describe('verified-token cache', () => {
  it('holds at most maxEntries tokens, evicting the least recently used', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      clock: new FakeClock(),
      cache: { maxEntries: 3 },
    })
    const [t1, t2, t3, t4] = await Promise.all([1, 2, 3, 4].map(() => issuer!.token()))
    for (const t of [t1, t2, t3]) await v.verify(t as string)
    await v.verify(t1 as string) // t1 is now the most recent
    await v.verify(t4 as string) // evicts t2
    expect(v.stats()).toMatchObject({ cacheEntries: 3, cacheHits: 1, fullVerifications: 4 })
    await v.verify(t1 as string)
    expect(v.stats()).toMatchObject({ cacheHits: 2, fullVerifications: 4 })
    await v.verify(t2 as string)
    expect(v.stats()).toMatchObject({ cacheHits: 2, fullVerifications: 5, cacheEntries: 3 })
  })

  it('never caches a failure: a bad token costs a full check every time', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
    const bad = await issuer.token({ aud: 'https://other.test' })
    for (let i = 0; i < 3; i++) {
      expect(await failure(v.verify(bad))).toBe(
        'wrong_audience: aud claim does not contain this API',
      )
    }
    expect(v.stats()).toMatchObject({ cacheEntries: 0, cacheHits: 0, fullVerifications: 3 })
  })

  it('cached results are frozen, so one request cannot change what another sees', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
    const token = await issuer.token({ aud: [AUDIENCE, 'https://b.test'] })
    const first = await v.verify(token)
    expect(Object.isFrozen(first)).toBe(true)
    expect(Object.isFrozen(first.claims)).toBe(true)
    expect(Object.isFrozen(first.claims.aud)).toBe(true)
    expect(Object.isFrozen(first.scopes)).toBe(true)
    expect(await v.verify(token)).toBe(first)
  })

  it('ExpiringLru drops entries at their expiry and sweeps expired ones as others arrive', () => {
    const lru = new ExpiringLru<string>(10)
    lru.set('a', 'A', NOW + 1000, NOW)
    lru.set('b', 'B', NOW + 5000, NOW)
    lru.set('never', 'X', NOW, NOW) // already expired: not stored
    expect(lru.size).toBe(2)
    expect(lru.get('a', NOW + 999)).toBe('A')
    expect(lru.get('a', NOW + 1000)).toBeUndefined()
    expect(lru.size).toBe(1)
    lru.set('c', 'C', NOW + 9000, NOW + 6000) // b expired at the old end: swept
    expect(lru.size).toBe(1)
    expect(lru.get('c', NOW + 6000)).toBe('C')
  })
})

describe('claims requirements', () => {
  it('requiredClaims, claims values and requiredScopes are enforced with exact messages', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({
      issuer: issuer.url,
      audience: AUDIENCE,
      clock: new FakeClock(),
      requiredClaims: ['sid'],
      claims: { acr: 'mfa', roles: (r) => Array.isArray(r) && r.includes('admin') },
      requiredScopes: ['read'],
    })
    const ok = { sid: 's1', acr: 'mfa', roles: ['admin'] }
    expect((await v.verify(await issuer.token(ok))).claims.roles).toEqual(['admin'])
    const rows: [Record<string, unknown>, string][] = [
      [{ ...ok, sid: undefined }, 'claim_missing: sid claim is missing'],
      [{ ...ok, acr: 'pwd' }, 'claim_invalid: acr claim does not have the required value'],
      [{ ...ok, roles: ['user'] }, 'claim_invalid: roles claim does not have the required value'],
      [{ ...ok, roles: undefined }, 'claim_missing: roles claim is missing'],
      [{ ...ok, scope: 'orders' }, 'insufficient_scope: the token lacks the scope read'],
      [{ ...ok, client_id: undefined }, 'claim_missing: client_id claim is missing (RFC 9068 2.2)'],
      [{ ...ok, sub: 7 }, 'claim_invalid: sub claim is not a string'],
      [{ ...ok, scope: ['read'] }, 'claim_invalid: scope claim is not a space-separated string'],
    ]
    for (const [claims, expected] of rows) {
      expect(await failure(v.verify(await issuer.token(claims)))).toBe(expected)
    }
  })

  it('an audience list accepts a token for any one of them', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({
      issuer: issuer.url,
      audience: ['https://x.test', AUDIENCE],
      clock: new FakeClock(),
    })
    expect((await v.verify(await issuer.token())).claims.aud).toBe(AUDIENCE)
  })

  it('messages never contain the token or values taken from it', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
    const marker = 'SECRET-MARKER-1234'
    const tokens = [
      await issuer.token({ iss: marker }),
      await issuer.token({ aud: marker }),
      issuer.raw({ alg: marker, typ: 'at+jwt' }),
      issuer.raw({ alg: 'ES256', typ: marker, kid: 'k-es256' }),
      issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: marker }),
      issuer.raw({ alg: 'ES256', typ: 'at+jwt', kid: 'k-es256', crit: [marker] }),
    ]
    for (const token of tokens) {
      const err = (await v.verify(token).catch((e: unknown) => e)) as TesseraVerifyError
      expect(err).toBeInstanceOf(TesseraVerifyError)
      const f = challenge(err, { realm: 'api' })
      for (const text of [err.message, f.body, JSON.stringify(f.headers)]) {
        expect(text).not.toContain(marker)
        expect(text).not.toContain(token.slice(0, 30))
      }
    }
  })

  it('the realm appears in every challenge, and quotes cannot break out of it', () => {
    const f = challenge(new TesseraVerifyError('expired', 'the token has expired (exp)'), {
      realm: 'api "x"',
    })
    expect(f.headers['www-authenticate']).toBe(
      'Bearer realm="api ?x?", error="invalid_token", error_description="the token has expired (exp)"',
    )
    expect(
      challenge(new TesseraVerifyError('token_missing', 'm'), { realm: 'api' }).headers,
    ).toMatchObject({ 'www-authenticate': 'Bearer realm="api"', 'cache-control': 'no-store' })
  })
})

describe('one token, one string', () => {
  /** The token with the character at `i` replaced by `c`. */
  const replaced = (token: string, i: number, c: string) =>
    `${token.slice(0, i)}${c}${token.slice(i + 1)}`

  it.each(['ES256', 'RS256', 'EdDSA', 'PS256'] as const)(
    '%s: a character written as a wider one with the same low byte is refused, in every part',
    async (alg) => {
      issuer = await startIssuer(keys)
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
      const token = await issuer.token({}, { key: keys[alg] })
      expect(await failure(v.verify(token))).toBe('passed')
      const [h, p] = token.split('.') as [string, string]
      // Buffer's base64 decoder reads U+0141 as 'A' (0x41): before the ASCII check, such a
      // signature decoded to the same bytes and an ES256 token passed.
      for (const i of [1, h.length + 2, h.length + p.length + 3, token.length - 2]) {
        const wide = String.fromCharCode(token.charCodeAt(i) + 0x100)
        expect(await failure(v.verify(replaced(token, i, wide))), `position ${i}`).toBe(
          'token_malformed: the token is malformed: a JWT is ASCII: base64url parts and dots',
        )
      }
      expect(v.stats().cacheEntries).toBe(1)
    },
  )

  it.each(['ES256', 'RS256', 'EdDSA'] as const)(
    '%s: a last signature character with its unused bits set is refused though it decodes the same',
    async (alg) => {
      issuer = await startIssuer(keys)
      const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
      const token = await issuer.token({}, { key: keys[alg] })
      const sig = token.slice(token.lastIndexOf('.') + 1)
      const bytes = Buffer.from(sig, 'base64url')
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
      // Every other last character that Buffer decodes to the same bytes (64 and 256 bytes both
      // leave 4 unused bits in it: 15 other spellings).
      const spellings = [...alphabet]
        .map((c) => `${sig.slice(0, -1)}${c}`)
        .filter((s) => s !== sig && Buffer.from(s, 'base64url').equals(bytes))
      expect(spellings).toHaveLength(15)
      expect(await failure(v.verify(token))).toBe('passed')
      for (const s of spellings) {
        expect(await failure(v.verify(`${token.slice(0, -sig.length)}${s}`)), s).toBe(
          'signature_invalid: the token signature is invalid',
        )
      }
    },
  )

  it('a signature written in the standard base64 alphabet (+ and /) is refused', async () => {
    issuer = await startIssuer(keys)
    const v = createVerifier({ issuer: issuer.url, audience: AUDIENCE, clock: new FakeClock() })
    // Buffer's decoder reads '+' as '-' and '/' as '_': the same signature bytes.
    const seen = { '-': false, _: false }
    for (let n = 0; n < 200 && !(seen['-'] && seen._); n++) {
      const token = await issuer.token({ n }, { key: keys.RS256 })
      const sig = token.slice(token.lastIndexOf('.') + 1)
      for (const [url, std] of [
        ['-', '+'],
        ['_', '/'],
      ] as const) {
        const at = sig.indexOf(url)
        if (at < 0) continue
        seen[url] = true
        expect(await failure(v.verify(token))).toBe('passed')
        const swapped = replaced(token, token.lastIndexOf('.') + 1 + at, std)
        expect(await failure(v.verify(swapped))).toBe(
          'signature_invalid: the token signature is invalid',
        )
      }
    }
    expect(seen).toEqual({ '-': true, _: true })
  })
})
