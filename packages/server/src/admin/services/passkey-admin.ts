import { NotFound } from '../../oauth/errors.js'
import type { PasskeyRecord } from '../../store/types.js'
import { adminEvent, type Actor, type AdminDeps } from '../actor.js'

/** A passkey as admins see it: never the public key. Times are milliseconds since the epoch. */
export interface PasskeyAdminView {
  id: string
  userId: string
  name: string
  transports: string[]
  backupEligible: boolean
  backupState: boolean
  counter: number
  createdAt: number
  lastUsedAt: number | null
}

export function passkeyAdminView(p: PasskeyRecord): PasskeyAdminView {
  return {
    id: p.id,
    userId: p.userId,
    name: p.name,
    transports: p.transports,
    backupEligible: p.backupEligible,
    backupState: p.backupState,
    counter: p.counter,
    createdAt: p.createdAt,
    lastUsedAt: p.lastUsedAt,
  }
}

/**
 * A user's passkeys, for the Admin API: listed, and removed one by one (a lost or compromised
 * device), with a `passkey_removed` event naming the admin.
 */
export class PasskeyAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(userId: string): Promise<PasskeyAdminView[]> {
    await this.#user(userId)
    return (await this.#d.store.listPasskeys(userId)).map(passkeyAdminView)
  }

  async remove(
    actor: Actor,
    userId: string,
    passkeyId: string,
  ): Promise<{ id: string; userId: string }> {
    await this.#user(userId)
    const removed = await this.#d.store.deletePasskey(
      userId,
      passkeyId,
      adminEvent(this.#d, actor, 'passkey_removed', { userId }, { passkeyId }),
    )
    if (!removed) throw new NotFound(`user ${userId} has no passkey ${passkeyId}`)
    return { id: passkeyId, userId }
  }

  async #user(userId: string): Promise<void> {
    if (!(await this.#d.store.getUser(userId))) throw new NotFound(`no user ${userId}`)
  }
}
