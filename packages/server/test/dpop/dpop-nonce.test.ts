/**
 * Server-provided DPoP nonces (RFC 9449 8 and 9) with `dpop.requireNonce`, and the `dpop`
 * settings of the configuration. Time is frozen; nonces change every 5-minute period.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import { DpopNonces, NONCE_PERIOD_SECONDS } from '../../src/oauth/dpop/dpop-nonces.js'
import { FakeClock } from '../../src/lib/clock.js'
import type { UserRecord } from '../../src/store/types.js'
import { dpopKey, tokenProof, userinfoProof, type DpopKey } from '../helpers/dpop.js'
import { codeForm, mintCode, postForm } from '../helpers/grants.js'
import { TEST_SECRET, type TestServer } from '../helpers/test-server.js'
import { expectOAuthError, startTokenServer, tokenEndpoint } from '../token/fixtures.js'

let t: TestServer
let alice: UserRecord
let key: DpopKey

beforeAll(async () => {
  t = await startTokenServer({ config: { dpop: { requireNonce: true } } })
  alice = await t.createUser('alice')
  key = await dpopKey('ES256')
})
afterAll(async () => {
  await t.close()
})

const PERIOD = NONCE_PERIOD_SECONDS * 1000
const REQUIRED = 'a DPoP nonce is required: send the DPoP-Nonce value as nonce'
const STALE = 'the DPoP nonce is not valid or has expired: send the DPoP-Nonce value as nonce'

async function freshCodeForm(): Promise<Record<string, string>> {
  const c = await mintCode(t, alice)
  return codeForm(c)
}

describe('DPoP nonces (dpop.requireNonce)', () => {
  it('a proof without a nonce gets use_dpop_nonce with a DPoP-Nonce; the retry with it succeeds', async () => {
    const form = await freshCodeForm()
    const first = await postForm(tokenEndpoint(t), form, { dpop: tokenProof(t, key) })
    expectOAuthError(first, 400, 'use_dpop_nonce', REQUIRED)
    const nonce = first.headers.get('dpop-nonce')
    expect(nonce).toMatch(/^[a-z0-9]+\.[A-Za-z0-9_-]{22}$/)
    const retry = await postForm(tokenEndpoint(t), form, {
      dpop: tokenProof(t, key, { nonce: nonce! }),
    })
    expect(retry.status, JSON.stringify(retry.body)).toBe(200)
    expect(retry.body.token_type).toBe('DPoP')
    expect(retry.headers.get('dpop-nonce')).toBe(nonce)
  })

  it('a nonce is accepted in its period and the next, not later; a forged one never', async () => {
    const nonce = new DpopNonces(Buffer.from(TEST_SECRET), t.clock).current()
    t.clock.advance(PERIOD)
    const next = await postForm(tokenEndpoint(t), await freshCodeForm(), {
      dpop: tokenProof(t, key, { nonce }),
    })
    expect(next.status).toBe(200)
    expect(next.headers.get('dpop-nonce')).not.toBe(nonce)
    t.clock.advance(PERIOD)
    const late = await postForm(tokenEndpoint(t), await freshCodeForm(), {
      dpop: tokenProof(t, key, { nonce }),
    })
    expectOAuthError(late, 400, 'use_dpop_nonce', STALE)
    const forged = `${nonce.split('.')[0]}.${'A'.repeat(22)}`
    expectOAuthError(
      await postForm(tokenEndpoint(t), await freshCodeForm(), {
        dpop: tokenProof(t, key, { nonce: forged }),
      }),
      400,
      'use_dpop_nonce',
      STALE,
    )
    // Another server secret's nonces are forged too.
    const foreign = new DpopNonces(Buffer.from('another-secret-another-secret-0123456789'), t.clock)
    expectOAuthError(
      await postForm(tokenEndpoint(t), await freshCodeForm(), {
        dpop: tokenProof(t, key, { nonce: foreign.current() }),
      }),
      400,
      'use_dpop_nonce',
      STALE,
    )
  })

  it('an invalid proof is invalid_dpop_proof even without a nonce', async () => {
    expectOAuthError(
      await postForm(tokenEndpoint(t), await freshCodeForm(), {
        dpop: tokenProof(t, key, { htm: 'GET' }),
      }),
      400,
      'invalid_dpop_proof',
      'htm claim of the DPoP proof must be POST',
    )
  })

  it('clients that send no proof are not asked for a nonce', async () => {
    const r = await postForm(tokenEndpoint(t), await freshCodeForm())
    expect(r.status).toBe(200)
    expect(r.body.token_type).toBe('Bearer')
  })

  it('userinfo: 401 with a use_dpop_nonce challenge and DPoP-Nonce, then 200 with the nonce', async () => {
    const first = await postForm(tokenEndpoint(t), await freshCodeForm(), {
      dpop: tokenProof(t, key, { nonce: t.server.ctx.dpopNonces.current() }),
    })
    const at = first.body.access_token as string
    const res = await fetch(`${t.url}/userinfo`, {
      headers: { authorization: `DPoP ${at}`, dpop: userinfoProof(t, key, at) },
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe(
      `DPoP realm="tessera", error="use_dpop_nonce", error_description="${REQUIRED}", algs="ES256 EdDSA Ed25519 RS256 PS256"`,
    )
    const nonce = res.headers.get('dpop-nonce')!
    expect(nonce).toBe(t.server.ctx.dpopNonces.current())
    const ok = await fetch(`${t.url}/userinfo`, {
      headers: { authorization: `DPoP ${at}`, dpop: userinfoProof(t, key, at, { nonce }) },
    })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('dpop-nonce')).toBe(nonce)
  })
})

describe('dpop configuration', () => {
  const base: ConfigInput = { issuer: 'https://auth.example.test', secret: TEST_SECRET }
  const rows: [string, Partial<ConfigInput>, string][] = [
    ['dpop', { dpop: 'yes' as never }, 'must be an object'],
    [
      'dpop.algorithms',
      { dpop: { algorithms: [] } },
      'must be a non-empty list of ES256, EdDSA, Ed25519, RS256, PS256',
    ],
    [
      'dpop.algorithms[1]',
      { dpop: { algorithms: ['ES256', 'HS256' as never] } },
      'must be one of ES256, EdDSA, Ed25519, RS256, PS256',
    ],
    [
      'dpop.proofWindowSeconds',
      { dpop: { proofWindowSeconds: 4 } },
      'must be a whole number from 5 to 300',
    ],
    [
      'dpop.proofWindowSeconds',
      { dpop: { proofWindowSeconds: 301 } },
      'must be a whole number from 5 to 300',
    ],
    ['dpop.requireNonce', { dpop: { requireNonce: 'true' as never } }, 'must be true or false'],
    [
      'clients[0].dpop',
      {
        clients: [
          { id: 'x', redirectUris: ['https://x.example.test/cb'], dpop: 'always' as never },
        ],
      },
      'must be optional or required',
    ],
  ]
  it.each(rows)('%s: %j is refused', (setting, input, message) => {
    let err: unknown
    try {
      resolveConfig({ ...base, ...input })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).setting).toBe(setting)
    expect((err as ConfigError).message).toBe(`invalid configuration: ${setting}: ${message}`)
  })

  it('defaults: all five algorithms, a 60 s window, no nonce, clients optional', () => {
    const c = resolveConfig({
      ...base,
      clients: [{ id: 'x', redirectUris: ['https://x.example.test/cb'] }],
    })
    expect(c.dpop).toEqual({
      algorithms: ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'],
      proofWindowSeconds: 60,
      requireNonce: false,
    })
    expect(c.clients[0]?.dpop).toBe('optional')
  })

  it('a narrower algorithm list is what discovery advertises and proofs may use', async () => {
    const s = await startTokenServer({ config: { dpop: { algorithms: ['EdDSA'] } } })
    try {
      const doc: any = await (await fetch(`${s.url}/.well-known/openid-configuration`)).json()
      expect(doc.dpop_signing_alg_values_supported).toEqual(['EdDSA'])
      const user = await s.createUser('bob')
      const c = await mintCode(s, user)
      const form = codeForm(c)
      expectOAuthError(
        await postForm(tokenEndpoint(s), form, { dpop: tokenProof(s, key) }),
        400,
        'invalid_dpop_proof',
        'alg header of the DPoP proof must be one of EdDSA',
      )
      const ed = await dpopKey('EdDSA')
      expect((await postForm(tokenEndpoint(s), form, { dpop: tokenProof(s, ed) })).status).toBe(200)
    } finally {
      await s.close()
    }
  })

  it('DpopNonces depends on the clock it is given only', () => {
    const clock = new FakeClock(0)
    const n = new DpopNonces(Buffer.from(TEST_SECRET), clock)
    const first = n.current()
    clock.advance(PERIOD - 1)
    expect(n.current()).toBe(first)
    clock.advance(1)
    expect(n.current()).not.toBe(first)
    expect(n.isValid(first)).toBe(true)
    expect(n.isValid('garbage')).toBe(false)
    expect(n.isValid('.x')).toBe(false)
  })
})
