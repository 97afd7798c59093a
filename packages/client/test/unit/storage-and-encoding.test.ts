/**
 * The storage conformance suite on the memory adapter (the IndexedDB adapter runs the same suite
 * in Chromium, see test/browser), and the UTF-8 and base64url code, which uses no TextEncoder,
 * TextDecoder, btoa or Buffer (missing on Hermes), checked here with those stubbed out.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memoryStorage, webCrypto, type Jwk } from '../../src/index.js'
import { WEB_CRYPTO_ALGS } from '../../src/lib/crypto.js'
import {
  base64urlDecode,
  base64urlEncode,
  utf8Decode,
  utf8Encode,
} from '../../src/lib/base64url.js'
import { storageConformance } from '../storage-conformance.js'

describe('storage conformance', () => {
  it('memoryStorage meets the contract except persistence across instances (by design: memory)', async () => {
    expect(await storageConformance(memoryStorage)).toEqual([
      'persistence: a second instance does not see the data',
    ])
    const shared = memoryStorage()
    expect(await storageConformance(() => shared)).toEqual([])
  })
})

describe('encoding without platform helpers', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('base64url matches Node for lengths 0..64', () => {
    for (let n = 0; n <= 64; n++) {
      const b = randomBytes(n)
      const s = base64urlEncode(b)
      expect(s).toBe(b.toString('base64url'))
      expect(Buffer.from(base64urlDecode(s))).toEqual(b)
    }
    expect(() => base64urlDecode('ab+c')).toThrow('invalid base64url character')
  })

  it('UTF-8 without TextEncoder/TextDecoder equals the platform’s, and rejects malformed input', () => {
    const samples = ['', 'plain', 'Zoë', '東京', '🚀 rocket', '{"name":"\u00e9\u4e2d\ud83d\ude00"}']
    const expected = samples.map((s) => Buffer.from(s, 'utf8'))
    vi.stubGlobal('TextEncoder', undefined)
    vi.stubGlobal('TextDecoder', undefined)
    samples.forEach((s, i) => {
      expect(Buffer.from(utf8Encode(s))).toEqual(expected[i])
      expect(utf8Decode(Uint8Array.from(expected[i]!))).toBe(s)
    })
    for (const bad of [
      [0xc0, 0x80],
      [0xe0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xe4, 0xb8],
    ]) {
      expect(() => utf8Decode(Uint8Array.from(bad))).toThrow('invalid UTF-8')
    }
  })
})

describe('webCrypto signature algorithms', () => {
  // Node's WebCrypto signs; the provider verifies with the parameters its table derives per `alg`.
  const CASES: [
    alg: string,
    gen: RsaHashedKeyGenParams | EcKeyGenParams | Algorithm,
    sign: unknown,
  ][] = [
    ...(['256', '384', '512'] as const).flatMap((b): [string, RsaHashedKeyGenParams, unknown][] => {
      const rsa = {
        modulusLength: 2048,
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: `SHA-${b}`,
      }
      return [
        [`RS${b}`, { name: 'RSASSA-PKCS1-v1_5', ...rsa }, { name: 'RSASSA-PKCS1-v1_5' }],
        [`PS${b}`, { name: 'RSA-PSS', ...rsa }, { name: 'RSA-PSS', saltLength: Number(b) / 8 }],
      ]
    }),
    ['ES256', { name: 'ECDSA', namedCurve: 'P-256' }, { name: 'ECDSA', hash: 'SHA-256' }],
    ['ES384', { name: 'ECDSA', namedCurve: 'P-384' }, { name: 'ECDSA', hash: 'SHA-384' }],
    ['EdDSA', { name: 'Ed25519' }, { name: 'Ed25519' }],
    ['Ed25519', { name: 'Ed25519' }, { name: 'Ed25519' }],
  ]

  it('lists exactly RS256-512, PS256-512, ES256, ES384, EdDSA and Ed25519', () => {
    expect([...WEB_CRYPTO_ALGS].sort()).toEqual(CASES.map(([a]) => a).sort())
  })

  it.each(CASES)(
    '%s: a good signature verifies, a changed payload does not',
    async (alg, gen, sign) => {
      const subtle = globalThis.crypto.subtle
      const pair = await subtle.generateKey(gen as RsaHashedKeyGenParams, true, ['sign', 'verify'])
      const jwk = (await subtle.exportKey('jwk', pair.publicKey)) as Jwk
      const data = new TextEncoder().encode(`payload for ${alg}`)
      const sig = new Uint8Array(
        await subtle.sign(sign as AlgorithmIdentifier, pair.privateKey, data),
      )
      const provider = webCrypto()
      // Extra JWK members (as in a JWKS entry) must not change the import.
      expect(
        await provider.verifySignature(alg, { ...jwk, kid: 'k1', use: 'sig' }, data, sig),
      ).toBe(true)
      const other = new TextEncoder().encode(`payload for ${alg}!`)
      expect(await provider.verifySignature(alg, jwk, other, sig)).toBe(false)
    },
  )

  it('rejects an algorithm outside the table', async () => {
    await expect(
      webCrypto().verifySignature('HS256', { kty: 'oct' }, new Uint8Array(), new Uint8Array()),
    ).rejects.toThrow('unsupported signature algorithm HS256')
  })
})
