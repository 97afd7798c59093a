import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type JsonWebKey as NodeJsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import type { Clock } from '../lib/clock.js'
import { deriveKey, sha256b64u } from '../lib/crypto.js'
import type { Random } from '../lib/random.js'
import type { Store } from '../store/store.js'
import type { SigningAlg, SigningKeyRecord } from '../store/types.js'

export interface LoadedKey {
  record: SigningKeyRecord
  privateKey: CryptoKey
  /** The private key as a node:crypto KeyObject, for the synchronous signer. */
  signingKey: KeyObject
  publicKey: CryptoKey
  publicJwk: JWK
}

export interface KeyManagerOptions {
  alg: SigningAlg
  /** Seconds clients may cache the JWKS (Cache-Control max-age). A new key is published at least
   * this long before it signs. Default 300. */
  jwksMaxAgeSeconds: number
  /** Seconds the longest-lived token signed by a key lives; a retired key stays published this
   * long after it stops signing. */
  maxTokenLifetimeSeconds: number
}

/**
 * Signing keys: created on first start, persisted encrypted under the server secret, rotated with
 * publish-before-use and keep-until-expiry (JWT-17). Several server instances read the same keys
 * from the store and reload them periodically.
 */
export class KeyManager {
  readonly #store: Store
  readonly #clock: Clock
  readonly #random: Random
  readonly #encKey: Buffer
  readonly options: KeyManagerOptions
  #keys: LoadedKey[] = []
  #loadedAt = 0

  constructor(
    store: Store,
    clock: Clock,
    random: Random,
    secret: Buffer,
    options: KeyManagerOptions,
  ) {
    this.#store = store
    this.#clock = clock
    this.#random = random
    this.#encKey = deriveKey(secret, 'signing-keys')
    this.options = options
  }

  /** Loads the keys, creating the first one when there is none. */
  async init(): Promise<void> {
    await this.reload()
    if (this.#keys.length === 0) {
      await this.#create(this.#clock.now())
      await this.reload()
    }
  }

  async reload(): Promise<void> {
    const records = await this.#store.listSigningKeys()
    const loaded: LoadedKey[] = []
    for (const record of records) {
      const jwk = JSON.parse(this.#decrypt(record.privateJwkEnc)) as JWK
      const privateKey = (await importJWK(jwk, record.alg)) as CryptoKey
      const publicJwk = JSON.parse(record.publicJwk) as JWK
      const publicKey = (await importJWK(publicJwk, record.alg)) as CryptoKey
      const signingKey = createPrivateKey({ key: jwk as NodeJsonWebKey, format: 'jwk' })
      loaded.push({ record, privateKey, signingKey, publicKey, publicJwk })
    }
    this.#keys = loaded
    this.#loadedAt = this.#clock.now()
  }

  /** Reloads when the cached set is older than 30 s, so rotations by another instance or by the
   * CLI are picked up well before the new key activates. */
  async refreshIfStale(): Promise<void> {
    if (this.#clock.now() - this.#loadedAt > 30_000) await this.reload()
  }

  /** The key that signs now: the newest whose activation time has come. */
  signingKey(): LoadedKey {
    const now = this.#clock.now()
    let best: LoadedKey | undefined
    for (const k of this.#keys) {
      if (k.record.activatesAt > now) continue
      if (k.record.expiresAt !== null && k.record.expiresAt <= now) continue
      if (!best || k.record.activatesAt > best.record.activatesAt) best = k
    }
    if (!best) throw new Error('no active signing key')
    return best
  }

  /** Public keys to publish: every key not yet expired, including ones not yet signing. */
  publicJwks(): { keys: JWK[] } {
    const now = this.#clock.now()
    return {
      keys: this.#keys
        .filter((k) => k.record.expiresAt === null || k.record.expiresAt > now)
        .map((k) => k.publicJwk),
    }
  }

  /** Looks a public key up by kid, for verifying our own tokens (introspection, userinfo, hints). */
  publicKey(kid: string): LoadedKey | undefined {
    const now = this.#clock.now()
    return this.#keys.find(
      (k) => k.record.kid === kid && (k.record.expiresAt === null || k.record.expiresAt > now),
    )
  }

  /**
   * Publishes a new key now that starts signing after one JWKS cache lifetime; the current key
   * stops signing then, and leaves the JWKS once its last tokens have expired.
   */
  async rotate(alg: SigningAlg = this.options.alg): Promise<SigningKeyRecord> {
    await this.reload()
    const now = this.#clock.now()
    const activatesAt = now + this.options.jwksMaxAgeSeconds * 1000
    const expiresAt = activatesAt + (this.options.maxTokenLifetimeSeconds + 60) * 1000
    for (const k of this.#keys) {
      if (k.record.retiredAt === null) {
        await this.#store.updateSigningKey(k.record.kid, activatesAt, expiresAt)
      }
    }
    const rec = await this.#create(activatesAt, alg)
    await this.reload()
    return rec
  }

  async #create(
    activatesAt: number,
    alg: SigningAlg = this.options.alg,
  ): Promise<SigningKeyRecord> {
    const { privateKey, publicKey } = await generateKeyPair(alg, {
      extractable: true,
      ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
      ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    })
    const pub = await exportJWK(publicKey)
    const kid = sha256b64u(JSON.stringify(pub) + this.#random.bytes(8).toString('hex')).slice(0, 16)
    const publicJwk: JWK = { ...pub, kid, alg, use: 'sig' }
    const priv = await exportJWK(privateKey)
    const record: SigningKeyRecord = {
      kid,
      alg,
      publicJwk: JSON.stringify(publicJwk),
      privateJwkEnc: this.#encrypt(JSON.stringify(priv)),
      createdAt: this.#clock.now(),
      activatesAt,
      retiredAt: null,
      expiresAt: null,
    }
    await this.#store.insertSigningKey(record)
    return record
  }

  #encrypt(plain: string): string {
    const iv = this.#random.bytes(12)
    const c = createCipheriv('aes-256-gcm', this.#encKey, iv)
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  #decrypt(enc: string): string {
    const buf = Buffer.from(enc, 'base64url')
    const d = createDecipheriv('aes-256-gcm', this.#encKey, buf.subarray(0, 12))
    d.setAuthTag(buf.subarray(12, 28))
    try {
      return Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8')
    } catch {
      throw new Error(
        'cannot decrypt the signing keys: the configured secret is not the one they were created with',
      )
    }
  }
}
