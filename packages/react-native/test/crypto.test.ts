import {
  constants,
  createHash,
  generateKeyPairSync,
  randomFillSync,
  sign,
  type KeyObject,
} from 'node:crypto'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type CryptoProvider,
} from '@tessera/client'
import { hermesCrypto, HERMES_CRYPTO_ALGS } from '../src/index.js'
import { fakeExpoCrypto } from './helpers/tessera.js'

const enc = (s: string) => new TextEncoder().encode(s)
type Jwk = Parameters<CryptoProvider['verifySignature']>[1]

function keyFor(alg: string): {
  privateKey: KeyObject
  jwk: Jwk
  sign(data: Uint8Array): Uint8Array
} {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'ES384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : alg === 'EdDSA'
          ? generateKeyPairSync('ed25519')
          : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const hash = {
    ES256: 'sha256',
    ES384: 'sha384',
    RS256: 'sha256',
    RS384: 'sha384',
    RS512: 'sha512',
    PS256: 'sha256',
    PS384: 'sha384',
    PS512: 'sha512',
  }[alg]
  return {
    privateKey: pair.privateKey,
    jwk: pair.publicKey.export({ format: 'jwk' }),
    sign: (data) =>
      new Uint8Array(
        sign(alg === 'EdDSA' ? null : hash!, data, {
          key: pair.privateKey,
          ...(alg.startsWith('ES') ? { dsaEncoding: 'ieee-p1363' as const } : {}),
          ...(alg.startsWith('PS') ? pss(constants.RSA_PSS_SALTLEN_DIGEST) : {}),
        }),
      ),
  }
}

/** Node's RSASSA-PSS signing options (MGF1 over the signing hash). */
const pss = (saltLength: number) => ({ padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })

describe('hermesCrypto', () => {
  const c = hermesCrypto(fakeExpoCrypto)

  it('this test environment has no Web Crypto, as on Hermes: the client starts (crypto is taken on first use) and sign-in fails with a configuration error until a provider is passed', async () => {
    expect(globalThis.crypto).toBeUndefined()
    const client = createTesseraClient({
      issuer: 'https://auth.example.com',
      clientId: 'a',
      redirectUri: 'com.example.app:/cb',
      storage: memoryStorage(),
      fetch: () => Promise.reject(new Error('no network in this test')),
    })
    const err: unknown = await client.signIn().then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(TesseraClientError)
    expect((err as TesseraClientError).code).toBe('configuration')
    expect((err as TesseraClientError).message).toContain('no Web Crypto API on this platform')
    client.dispose()
  })

  it('SHA-256 matches a reference implementation', async () => {
    for (const s of ['', 'abc', 'Zoë 東京 🚀'.repeat(100)]) {
      const ours = Buffer.from(await c.sha256(enc(s))).toString('hex')
      expect(ours).toBe(createHash('sha256').update(s).digest('hex'))
    }
  })

  it('random bytes come from the injected CSPRNG, also past 65,536 bytes', () => {
    const a = c.getRandomValues(new Uint8Array(100_000))
    expect(a.slice(70_000, 70_100).some((v) => v !== 0)).toBe(true)
    expect(a.slice(0, 100).some((v) => v !== 0)).toBe(true)
  })

  it.each(HERMES_CRYPTO_ALGS.filter((a) => a !== 'Ed25519'))(
    'SDK-03 verifies %s signatures made by Node, and refuses tampered data, another key and garbage',
    async (alg) => {
      const k = keyFor(alg)
      const other = keyFor(alg)
      const data = enc('header.payload-' + alg)
      const sig = k.sign(data)
      expect(await c.verifySignature(alg, k.jwk, data, sig)).toBe(true)
      expect(await c.verifySignature(alg, k.jwk, enc('header.payload-X'), sig)).toBe(false)
      expect(await c.verifySignature(alg, other.jwk, data, sig)).toBe(false)
      const flipped = sig.slice()
      flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 1
      expect(await c.verifySignature(alg, k.jwk, data, flipped)).toBe(false)
      expect(await c.verifySignature(alg, k.jwk, data, new Uint8Array(3))).toBe(false)
    },
  )

  describe('PS256, PS384, PS512 (RSASSA-PSS, salt as long as the hash: RFC 7518 3.5)', () => {
    const data = enc('header.payload')

    it('a modulus of 2049 bits (the encoded message is one byte shorter than the key) and of 3072 bits', async () => {
      for (const bits of [2049, 3072]) {
        const pair = generateKeyPairSync('rsa', { modulusLength: bits })
        const jwk = pair.publicKey.export({ format: 'jwk' }) as Jwk
        for (const [alg, hash] of [
          ['PS256', 'sha256'],
          ['PS512', 'sha512'],
        ] as const) {
          const sig = sign(hash, data, {
            key: pair.privateKey,
            ...pss(constants.RSA_PSS_SALTLEN_DIGEST),
          })
          expect(await c.verifySignature(alg, jwk, data, new Uint8Array(sig))).toBe(true)
          expect(await c.verifySignature(alg, jwk, enc('other'), new Uint8Array(sig))).toBe(false)
        }
      }
    })

    it('refuses another salt length, PKCS#1 v1.5 signatures, another hash, and PSS under RS256', async () => {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const jwk = pair.publicKey.export({ format: 'jwk' }) as Jwk
      const with_ = (hash: string, o: object) =>
        new Uint8Array(sign(hash, data, { key: pair.privateKey, ...o }))
      expect(await c.verifySignature('PS256', jwk, data, with_('sha256', pss(0)))).toBe(false)
      expect(await c.verifySignature('PS256', jwk, data, with_('sha256', pss(20)))).toBe(false)
      expect(
        await c.verifySignature(
          'PS256',
          jwk,
          data,
          with_('sha256', pss(constants.RSA_PSS_SALTLEN_MAX_SIGN)),
        ),
      ).toBe(false)
      expect(await c.verifySignature('PS256', jwk, data, with_('sha256', {}))).toBe(false)
      const ps384 = with_('sha384', pss(constants.RSA_PSS_SALTLEN_DIGEST))
      expect(await c.verifySignature('PS256', jwk, data, ps384)).toBe(false)
      expect(await c.verifySignature('PS384', jwk, data, ps384)).toBe(true)
      const ps256 = with_('sha256', pss(constants.RSA_PSS_SALTLEN_DIGEST))
      expect(await c.verifySignature('RS256', jwk, data, ps256)).toBe(false)
      expect(await c.verifySignature('PS256', jwk, data, ps256)).toBe(true)
      // a signature of the key's length that is not below n, and one of the wrong length
      const n = Buffer.from(jwk.n as string, 'base64url')
      expect(await c.verifySignature('PS256', jwk, data, new Uint8Array(n))).toBe(false)
      expect(await c.verifySignature('PS256', jwk, data, ps256.subarray(1))).toBe(false)
    })

    it('refuses RSA keys under 2048 bits and keys that are not RSA', async () => {
      const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
      const sig = sign('sha256', data, { key: small.privateKey, ...pss(32) })
      await expect(
        c.verifySignature('PS256', small.publicKey.export({ format: 'jwk' }) as Jwk, data, sig),
      ).rejects.toThrow('RSA keys under 2048 bits are not accepted')
      await expect(
        c.verifySignature('PS256', keyFor('ES256').jwk, data, new Uint8Array(256)),
      ).rejects.toThrow('PS256 needs an RSA key')
    })
  })

  it('rejects an unsupported algorithm, a key of the wrong type and RSA keys under 2048 bits', async () => {
    const es = keyFor('ES256')
    await expect(c.verifySignature('none', es.jwk, enc('x'), new Uint8Array(0))).rejects.toThrow(
      'unsupported signature algorithm none',
    )
    await expect(c.verifySignature('EdDSA', es.jwk, enc('x'), new Uint8Array(64))).rejects.toThrow(
      'expected an Ed25519 key',
    )
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 })
    const jwk = small.publicKey.export({ format: 'jwk' }) as Jwk
    await expect(
      c.verifySignature(
        'RS256',
        jwk,
        enc('x'),
        new Uint8Array(sign('sha256', enc('x'), small.privateKey)),
      ),
    ).rejects.toThrow('RSA keys under 2048 bits are not accepted')
  })

  describe('APP-14 a missing or half-polyfilled getRandomValues is a configuration error at start', () => {
    const configuration = (f: () => unknown, message: string) => {
      let err: unknown
      try {
        f()
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(TesseraClientError)
      expect(err).toMatchObject({ code: 'configuration' })
      expect((err as Error).message).toContain(message)
    }

    it('no module at all', () => {
      configuration(() => hermesCrypto(undefined), 'no secure random source on this platform')
      configuration(
        () => hermesCrypto({} as unknown as typeof fakeExpoCrypto),
        'no secure random source on this platform',
      )
    })

    it('a polyfill that returns the array untouched (zeros) or a new array', () => {
      configuration(
        () => hermesCrypto({ getRandomValues: (a: Uint8Array) => a }),
        'does not fill the array it is given',
      )
      configuration(
        () =>
          hermesCrypto({
            getRandomValues: (a: Uint8Array) => randomFillSync(new Uint8Array(a.length)),
          }),
        'does not fill the array it is given',
      )
    })

    it('a polyfill that repeats itself, or throws', () => {
      configuration(
        () => hermesCrypto({ getRandomValues: (a: Uint8Array) => a.fill(7) }),
        'does not fill the array it is given',
      )
      configuration(
        () =>
          hermesCrypto({
            getRandomValues: () => {
              throw new Error('Native module ExpoCrypto not found')
            },
          }),
        'the secure random source failed',
      )
    })
  })
})
