import type { ThrottleRule } from '../../config/config.js'
import { safeEqual } from '../../lib/crypto.js'
import type { AdminDeps } from '../actor.js'
import { hashAdminKey } from './admin-key-hash.js'

/** An authenticated admin key. */
export interface AdminPrincipal {
  /** `ak_...` for a key in the store, `config:<name>` for one from the configuration. */
  keyId: string
  name: string
  /**
   * What a console session remembers of the key, re-checked on every request: the store key's
   * id, or `config:<name>:<fingerprint of its hash>` for a configured key, so replacing a
   * configured key under the same name (`TESSERA_ADMIN_API_KEY` has one name) ends the console
   * sign-ins made with the old one.
   */
  credentialId: string
}

const fingerprint = (hash: string): string => hash.slice(-16)

/** Longest admin key looked at; anything longer is refused before hashing. */
const MAX_KEY = 512

/**
 * Checks admin keys. The presented key is hashed (SHA-256) and compared in constant time with every
 * configured hash (no early exit, so timing does not tell which or how many matched), then looked
 * up by hash among the store's keys, live ones only. No key, not even its prefix, is ever stored
 * or logged.
 */
export class AdminAuthenticator {
  readonly #d: Pick<AdminDeps, 'config' | 'store'>

  constructor(deps: Pick<AdminDeps, 'config' | 'store'>) {
    this.#d = deps
  }

  /** Failures per client IP, counted in the store (shared by instances). */
  throttleKey(ip: string): { key: string; rule: ThrottleRule } {
    return { key: `admin-ip:${ip}`, rule: this.#d.config.throttle.adminPerIp }
  }

  async authenticate(key: string): Promise<AdminPrincipal | undefined> {
    if (key.length === 0 || key.length > MAX_KEY) return undefined
    const hash = hashAdminKey(key)
    let found: AdminPrincipal | undefined
    for (const k of this.#d.config.admin.apiKeys) {
      if (safeEqual(hash, k.hash) && !found) {
        found = {
          keyId: `config:${k.name}`,
          name: k.name,
          credentialId: `config:${k.name}:${fingerprint(k.hash)}`,
        }
      }
    }
    if (found) return found
    const stored = await this.#d.store.getAdminKeyByHash(hash)
    if (!stored || stored.revokedAt !== null || !safeEqual(stored.keyHash, hash)) return undefined
    return { keyId: stored.id, name: stored.name, credentialId: stored.id }
  }

  /** The principal of a console session's `credentialId`, if that key is still valid (console
   * sessions re-check it on every request, so revoking, unconfiguring or replacing a key ends its
   * console sign-ins). */
  async byCredentialId(credentialId: string): Promise<AdminPrincipal | undefined> {
    if (credentialId.startsWith('config:')) {
      const m = /^config:(.+):([A-Za-z0-9_-]{16})$/.exec(credentialId)
      if (!m) return undefined
      const [, name, print] = m as unknown as [string, string, string]
      const k = this.#d.config.admin.apiKeys.find((x) => x.name === name)
      if (!k || !safeEqual(fingerprint(k.hash), print)) return undefined
      return { keyId: `config:${name}`, name, credentialId }
    }
    const stored = await this.#d.store.getAdminKey(credentialId)
    if (!stored || stored.revokedAt !== null) return undefined
    return { keyId: stored.id, name: stored.name, credentialId }
  }
}
