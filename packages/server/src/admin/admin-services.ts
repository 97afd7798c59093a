import type { AdminDeps } from './actor.js'
import { AdminAuthenticator } from './auth/admin-auth.js'
import { AdminKeyAdmin } from './services/admin-key-admin.js'
import { ApiAdmin } from './services/api-admin.js'
import { ClientAdmin } from './services/client-admin.js'
import { DeviceKeyAdmin } from './services/device-key-admin.js'
import { EventAdmin } from './services/event-admin.js'
import { PasskeyAdmin } from './services/passkey-admin.js'
import { SessionAdmin } from './services/session-admin.js'
import { UserAdmin } from './services/user-admin.js'

/**
 * The admin service layer, shared by the Admin API, the admin console and the CLI, so the three
 * enforce the same rules and record the same events.
 *
 * @example
 * const admin = new AdminServices(ctx)
 * await admin.users.disable(actor, userId) // revokes every session, with events
 */
export class AdminServices {
  readonly users: UserAdmin
  readonly sessions: SessionAdmin
  readonly events: EventAdmin
  readonly clients: ClientAdmin
  readonly apis: ApiAdmin
  readonly keys: AdminKeyAdmin
  readonly passkeys: PasskeyAdmin
  readonly deviceKeys: DeviceKeyAdmin
  readonly auth: AdminAuthenticator

  constructor(deps: AdminDeps) {
    this.users = new UserAdmin(deps)
    this.sessions = new SessionAdmin(deps)
    this.events = new EventAdmin(deps)
    this.clients = new ClientAdmin(deps)
    this.apis = new ApiAdmin(deps)
    this.keys = new AdminKeyAdmin(deps)
    this.passkeys = new PasskeyAdmin(deps)
    this.deviceKeys = new DeviceKeyAdmin(deps)
    this.auth = new AdminAuthenticator(deps)
  }
}
