import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  type JsonWebKey as NodeJsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import type { Clock } from '../lib/clock.js'
import { sha256b64u } from '../lib/crypto.js'
import { purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'
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

/** Wall-clock milliseconds between two reloads caused by a kid we do not know. */
export const UNKNOWN_KID_COOLDOWN_MS = 1000

export interface KeyManagerOptions {
  alg: SigningAlg
  /** Seconds clients may cache the JWKS (Cache-Control max-age). A new key is published at least
   * this long before it signs. Default 300. */
  jwksMaxAgeSeconds: number
  /** Seconds the longest-lived token signed by a key lives; a retired key stays published this
   * long after it stops signing. */
  maxTokenLifetimeSeconds: number
  /** Told once per key that none of the secrets opens, when another instance or the CLI stored
   * it under a secret this instance does not have (at start such a key fails `init` instead). */
  onUndecryptable?: (kid: string) => void
}

/** Thrown by `init` when a stored key opens with none of the configured secrets. */
export class UndecryptableKeysError extends Error {
  override readonly name = 'UndecryptableKeysError'
  constructor(readonly kids: string[]) {
    super(
      'cannot decrypt the signing keys: none of the configured secrets is the one they were created with',
    )
  }
}

/**
 * Signing keys: created on first start, persisted encrypted under the server secret, rotated with
 * publish-before-use and keep-until-expiry (JWT-17). Several server instances read the same keys
 * from the store and reload them periodically.
 *
 * Secret rotation: keys are encrypted under the first secret of the ring and opened with any.
 * `init` re-encrypts every key still under an older secret, one compare-and-set per key, so the
 * older secret can then be dropped; instances starting together each try, one write wins per key.
 */
export class KeyManager {
  readonly #store: Store
  readonly #clock: Clock
  readonly #random: Random
  readonly #encKeys: PurposeKeys
  /** Kids stored under a secret older than the first, found by the last read. */
  #stale = new Map<string, string>()
  readonly #reported = new Set<string>()
  readonly options: KeyManagerOptions
  #keys: LoadedKey[] = []
  /** When the keys were last read, by the injected clock (the 30 s staleness rule). */
  #loadedAt = 0
  /** When an unknown kid last made us read the keys, in wall-clock ms (its cooldown). */
  #missReadAt = -Infinity
  #reloading: Promise<void> | undefined

  constructor(
    store: Store,
    clock: Clock,
    random: Random,
    secrets: Secrets,
    options: KeyManagerOptions,
  ) {
    this.#store = store
    this.#clock = clock
    this.#random = random
    this.#encKeys = purposeKeys(secrets, 'signing-keys')
    this.options = options
  }

  /** Loads the keys, creating the first one when there is none. Instances starting together on an
   * empty database create one first key between them (the store inserts it atomically). */
  async init(): Promise<void> {
    await this.#load(true)
    if (this.#keys.length === 0) {
      await this.#store.insertFirstSigningKey(await this.#make(this.#clock.now()))
      await this.#load(true)
    }
    if (this.#stale.size > 0) await this.#reencrypt()
  }

  /** How many stored keys are still encrypted under an older secret of the ring (after `init`:
   * none, unless a key was stored under an older secret since). */
  get keysUnderOlderSecret(): number {
    return this.#stale.size
  }

  /** Re-encrypts every key found under an older secret with the current one. Each write is a
   * compare-and-set on the stored ciphertext: an instance starting at the same time may have
   * written first (then this one matches nothing and keeps that instance's ciphertext, which
   * the same ring opens). */
  async #reencrypt(): Promise<void> {
    for (const [kid, enc] of this.#stale) {
      const plain = this.#decrypt(enc)?.plain
      if (plain === undefined) continue
      await this.#store.reencryptSigningKey(kid, enc, this.#encrypt(plain))
    }
    await this.#load(true)
  }

  /** Reads the keys from the store again. Concurrent callers share one read; keys already loaded
   * are not imported again, only their record (retirement, expiry) is updated. */
  reload(): Promise<void> {
    this.#reloading ??= this.#load(false).finally(() => {
      this.#reloading = undefined
    })
    return this.#reloading
  }

  /** Reads the keys. `strict` (at start): a key no secret opens is an error. Later such a key
   * (stored by an instance with another secret) is left out and reported once, so requests keep
   * being served with the keys this instance has instead of failing on every reload. */
  async #load(strict: boolean): Promise<void> {
    const records = await this.#store.listSigningKeys()
    const byKid = new Map(this.#keys.map((k) => [k.record.kid, k]))
    const loaded: LoadedKey[] = []
    const stale = new Map<string, string>()
    const unreadable: string[] = []
    for (const record of records) {
      const known = byKid.get(record.kid)
      if (known && known.record.privateJwkEnc === record.privateJwkEnc) {
        // Opened before: not decrypted again, and under the same secret as then.
        if (this.#stale.has(record.kid)) stale.set(record.kid, record.privateJwkEnc)
        loaded.push({ ...known, record })
        continue
      }
      const opened = this.#decrypt(record.privateJwkEnc)
      if (!opened) {
        unreadable.push(record.kid)
        continue
      }
      if (opened.keyIndex > 0) stale.set(record.kid, record.privateJwkEnc)
      if (known) {
        // Re-encrypted by another instance: the same key.
        loaded.push({ ...known, record })
        continue
      }
      const jwk = JSON.parse(opened.plain) as JWK
      const privateKey = (await importJWK(jwk, record.alg)) as CryptoKey
      const publicJwk = JSON.parse(record.publicJwk) as JWK
      const publicKey = (await importJWK(publicJwk, record.alg)) as CryptoKey
      const signingKey = createPrivateKey({ key: jwk as NodeJsonWebKey, format: 'jwk' })
      loaded.push({ record, privateKey, signingKey, publicKey, publicJwk })
    }
    if (unreadable.length > 0) {
      if (strict) throw new UndecryptableKeysError(unreadable)
      for (const kid of unreadable) {
        if (this.#reported.has(kid)) continue
        this.#reported.add(kid)
        this.options.onUndecryptable?.(kid)
      }
    }
    this.#keys = loaded
    this.#stale = stale
    this.#loadedAt = this.#clock.now()
  }

  /** Reloads when the cached set is older than 30 s, so rotations by another instance or by the
   * CLI are picked up well before the new key activates. */
  async refreshIfStale(): Promise<void> {
    if (this.#clock.now() - this.#loadedAt > 30_000) await this.reload()
  }

  /**
   * The key of `kid` for verifying one of our own tokens. A kid we do not know may be a key that
   * another instance or the CLI has just created (with `jwksMaxAgeSeconds: 0` it signs at once),
   * so a miss reloads the keys, but at most once per `UNKNOWN_KID_COOLDOWN_MS` of wall-clock time:
   * made-up kids cannot turn every request into a database read (JWT-05; the kid itself is never
   * looked up, the whole small key set is read).
   */
  async verificationKey(kid: string): Promise<LoadedKey | undefined> {
    await this.refreshIfStale()
    const hit = this.publicKey(kid)
    if (hit || performance.now() - this.#missReadAt < UNKNOWN_KID_COOLDOWN_MS) return hit
    this.#missReadAt = performance.now()
    await this.reload()
    return this.publicKey(kid)
  }

  /** The key that signs now: the newest whose activation time has come. */
  signingKey(): LoadedKey {
    const now = this.#clock.now()
    let best: LoadedKey | undefined
    for (const k of this.#keys) {
      if (k.record.activatesAt > now) continue
      if (k.record.expiresAt !== null && k.record.expiresAt <= now) continue
      // Retired by a rotation whose successor has activated (they may share the instant).
      if (k.record.retiredAt !== null && k.record.retiredAt <= now) continue
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
    await this.#load(false)
    const now = this.#clock.now()
    const activatesAt = now + this.options.jwksMaxAgeSeconds * 1000
    const expiresAt = activatesAt + (this.options.maxTokenLifetimeSeconds + 60) * 1000
    for (const k of this.#keys) {
      if (k.record.retiredAt === null) {
        await this.#store.updateSigningKey(k.record.kid, activatesAt, expiresAt)
      }
    }
    const rec = await this.#make(activatesAt, alg)
    await this.#store.insertSigningKey(rec)
    // A read of our own (not one already under way, which may predate the insert).
    await this.#load(false)
    return rec
  }

  async #make(activatesAt: number, alg: SigningAlg = this.options.alg): Promise<SigningKeyRecord> {
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
    return record
  }

  #encrypt(plain: string): string {
    const iv = this.#random.bytes(12)
    const c = createCipheriv('aes-256-gcm', this.#encKeys.current, iv)
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()])
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url')
  }

  /** The plaintext and the index in the ring of the secret that opened it, or undefined when
   * none does (GCM's tag tells a wrong key apart). */
  #decrypt(enc: string): { plain: string; keyIndex: number } | undefined {
    const buf = Buffer.from(enc, 'base64url')
    for (const [keyIndex, key] of this.#encKeys.all.entries()) {
      const d = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12))
      d.setAuthTag(buf.subarray(12, 28))
      try {
        const plain = Buffer.concat([d.update(buf.subarray(28)), d.final()]).toString('utf8')
        return { plain, keyIndex }
      } catch {
        // Not this secret: try the next one.
      }
    }
    return undefined
  }
}
