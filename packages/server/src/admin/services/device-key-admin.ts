import { NotFound } from '../../oauth/errors.js'
import type { DeviceKeyRecord } from '../../store/types.js'
import { adminEvent, type Actor, type AdminDeps } from '../actor.js'

/** A device key (biometric step-up) as admins see it: the key's thumbprint, never the key.
 * Times are milliseconds since the epoch. */
export interface DeviceKeyAdminView {
  id: string
  userId: string
  name: string
  jkt: string
  createdAt: number
  lastUsedAt: number | null
}

export function deviceKeyAdminView(k: DeviceKeyRecord): DeviceKeyAdminView {
  return {
    id: k.id,
    userId: k.userId,
    name: k.name,
    jkt: k.jkt,
    createdAt: k.createdAt,
    lastUsedAt: k.lastUsedAt,
  }
}

/**
 * A user's device keys, for the Admin API: listed, and removed one by one (a lost or stolen
 * phone), with a `device_key_removed` event naming the admin. A removed key's next step-up is
 * refused (`server_credential_revoked`).
 */
export class DeviceKeyAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(userId: string): Promise<DeviceKeyAdminView[]> {
    await this.#user(userId)
    return (await this.#d.store.listDeviceKeys(userId)).map(deviceKeyAdminView)
  }

  async remove(
    actor: Actor,
    userId: string,
    deviceKeyId: string,
  ): Promise<{ id: string; userId: string }> {
    await this.#user(userId)
    const removed = await this.#d.store.deleteDeviceKey(
      userId,
      deviceKeyId,
      adminEvent(this.#d, actor, 'device_key_removed', { userId }, { deviceKeyId }),
    )
    if (!removed) throw new NotFound(`user ${userId} has no device key ${deviceKeyId}`)
    return { id: deviceKeyId, userId }
  }

  async #user(userId: string): Promise<void> {
    if (!(await this.#d.store.getUser(userId))) throw new NotFound(`no user ${userId}`)
  }
}
