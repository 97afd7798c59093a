import { randomId } from '../../lib/random.js'
import { Conflict, InvalidRequest, NotFound } from '../../oauth/errors.js'
import type { AdminKeyRecord } from '../../store/types.js'
import { adminEvent, type Actor, type AdminDeps } from '../actor.js'
import { generateAdminKey, hashAdminKey } from '../auth/admin-key-hash.js'
import { adminKeyView, type AdminKeyView } from './views.js'

const NAME = /^[A-Za-z0-9._-]{1,64}$/

/** Admin API keys kept in the store (made by `tessera admin-keys create`): only hashes are kept,
 * and the key is shown once. Keys from the configuration are not listed here. */
export class AdminKeyAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async create(actor: Actor, name: string): Promise<{ key: string; record: AdminKeyView }> {
    if (!NAME.test(name)) {
      throw new InvalidRequest('name: must be 1 to 64 characters of A-Z a-z 0-9 . _ -')
    }
    const key = generateAdminKey(this.#d.random)
    const record: AdminKeyRecord = {
      id: `ak_${randomId(this.#d.random)}`,
      name,
      keyHash: hashAdminKey(key),
      createdAt: this.#d.clock.now(),
      revokedAt: null,
    }
    await this.#d.store.createAdminKey(
      record,
      adminEvent(this.#d, actor, 'admin_key_created', {}, { keyId: record.id, name }),
    )
    return { key, record: adminKeyView(record) }
  }

  async list(): Promise<AdminKeyView[]> {
    return (await this.#d.store.listAdminKeys()).map(adminKeyView)
  }

  /** Revokes the key at once; console sign-ins made with it end too. */
  async revoke(actor: Actor, id: string): Promise<AdminKeyView> {
    const k = await this.#d.store.getAdminKey(id)
    if (!k) throw new NotFound(`no admin key ${id}`)
    const now = this.#d.clock.now()
    const ok = await this.#d.store.revokeAdminKey(
      id,
      now,
      adminEvent(this.#d, actor, 'admin_key_revoked', {}, { keyId: id, name: k.name }),
    )
    if (!ok) throw new Conflict(`admin key ${id} is revoked already`)
    return adminKeyView({ ...k, revokedAt: now })
  }
}
