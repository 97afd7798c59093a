import { p256 } from '@noble/curves/nist.js'
import type { CryptoProvider, TesseraStorage } from '@tessera/client'
import { dpopSigner, type DpopBinding, type DpopKey, type DpopKeys } from '@tessera/client/dpop'
import { TesseraNativeError } from './errors.js'

export interface NativeDpopOptions {
  /**
   * Where the private keys are kept: `secureStoreStorage(SecureStore)` or
   * `keychainStorage(Keychain)` (the Keychain / Keystore-encrypted store, readable only on this
   * device), so the key survives restarts and a relaunched app refreshes its bound session.
   * One item per issuer and client, under `dpop <issuer> <clientId>`.
   */
  storage: TesseraStorage
  /** The crypto provider of the client, `hermesCrypto(ExpoCrypto)`: random bytes (the key, the
   * signatures' extra entropy, `jti`) and SHA-256. */
  crypto: CryptoProvider
}

/** What is stored per key: the P-256 secret scalar, base64url. */
interface StoredKey {
  v: 1
  alg: 'ES256'
  d: string
}

const itemKey = (id: string) => `dpop ${id}`

/**
 * ES256 DPoP keys for React Native, signed in JavaScript with the audited `@noble/curves` (Hermes
 * has no Web Crypto) and kept in the secure storage you pass (Keychain on iOS, Keystore-encrypted
 * on Android), never in plain AsyncStorage. The private key is a software key: the app's process
 * can read it, unlike a Secure Enclave key, but it never leaves the device's secure storage
 * except to sign, and it is deleted at sign-out. For a hardware key, give `dpopSigner` keys of
 * your own native module (`DpopKeys`).
 *
 * @example
 * import * as ExpoCrypto from 'expo-crypto'
 * import * as SecureStore from 'expo-secure-store'
 * const crypto = hermesCrypto(ExpoCrypto)
 * const keys = nativeDpopKeys({ storage: secureStoreStorage(SecureStore, { namespace: 'dpop' }), crypto })
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-2
 */
export function nativeDpopKeys(o: NativeDpopOptions): DpopKeys {
  if (typeof o.crypto?.getRandomValues !== 'function') {
    throw new TesseraNativeError(
      'configuration',
      'nativeDpopKeys: pass `crypto` (hermesCrypto(ExpoCrypto)) for the key and the signatures',
    )
  }
  const random = (n: number) => o.crypto.getRandomValues(new Uint8Array(n))
  // Two key() calls for one id at once make and store one key.
  const making = new Map<string, Promise<Uint8Array>>()

  const secret = async (id: string): Promise<Uint8Array> => {
    const raw = await o.storage.get(itemKey(id))
    const stored = raw === null ? undefined : parse(raw)
    if (stored) return stored
    // None, or an unreadable record (whose session cannot be refreshed anyway): a new key.
    const d = p256.utils.randomSecretKey(random(p256.lengths.seed ?? 48))
    await o.storage.set(itemKey(id), JSON.stringify({ v: 1, alg: 'ES256', d: b64u(d) }))
    return d
  }

  return {
    async key(id) {
      let pending = making.get(id)
      if (!pending) {
        pending = secret(id).finally(() => making.delete(id))
        making.set(id, pending)
      }
      const d = await pending
      const point = p256.getPublicKey(d, false)
      return {
        alg: 'ES256',
        jwk: {
          kty: 'EC',
          crv: 'P-256',
          x: b64u(point.subarray(1, 33)),
          y: b64u(point.subarray(33)),
        },
        // RFC 6979 with extra entropy (hedged): the 64-byte r || s of JWS.
        sign: (data) =>
          Promise.resolve(p256.sign(data, d, { prehash: true, extraEntropy: random(32) })),
      } satisfies DpopKey
    },
    discard: (id) => o.storage.remove(itemKey(id)),
  }
}

/**
 * DPoP (RFC 9449) for a React Native client: `dpopSigner(nativeDpopKeys(o), { crypto })`. Pass it
 * as the `dpop` option of `createTesseraClient`; the tokens, the refresh token of the session and
 * the authorization code (`dpop_jkt`) are bound to a key kept in secure storage.
 *
 * @example
 * const crypto = hermesCrypto(ExpoCrypto)
 * const client = createTesseraClient({
 *   ...options,
 *   crypto,
 *   storage: secureStoreStorage(SecureStore),
 *   dpop: nativeDpop({ storage: secureStoreStorage(SecureStore, { namespace: 'dpop' }), crypto }),
 * })
 */
export function nativeDpop(o: NativeDpopOptions): DpopBinding {
  return dpopSigner(nativeDpopKeys(o), { crypto: o.crypto })
}

function parse(raw: string): Uint8Array | undefined {
  try {
    const s = JSON.parse(raw) as Partial<StoredKey>
    if (s.v !== 1 || s.alg !== 'ES256' || typeof s.d !== 'string') return undefined
    const d = fromB64u(s.d)
    return d.length === 32 && p256.utils.isValidSecretKey(d) ? d : undefined
  } catch {
    return undefined
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function b64u(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8)
    out += B64[n >> 18]! + B64[(n >> 12) & 63]!
    if (i + 1 < bytes.length) out += B64[(n >> 6) & 63]!
  }
  return out
}

function fromB64u(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url')
  const out: number[] = []
  let buf = 0
  let bits = 0
  for (const ch of s) {
    buf = ((buf << 6) | B64.indexOf(ch)) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out.push((buf >> bits) & 0xff)
    }
  }
  return Uint8Array.from(out)
}
