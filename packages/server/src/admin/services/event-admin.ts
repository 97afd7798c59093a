import type { SecurityEventRecord, SecurityEventType } from '../../store/types.js'
import type { AdminDeps } from '../actor.js'
import { decodeCursor, encodeCursor, PAGE, type Page } from './cursor.js'

/** Every event type, for validating filters (the Record keeps the list complete). */
const TYPES: Record<SecurityEventType, true> = {
  sign_in_success: true,
  sign_in_failure: true,
  sign_out: true,
  session_expired: true,
  session_abandoned: true,
  refresh_token_reuse: true,
  refresh_token_retry: true,
  code_reuse: true,
  session_revoked: true,
  session_ended: true,
  token_revoked: true,
  throttled: true,
  signing_key_rotated: true,
  user_created: true,
  user_updated: true,
  user_disabled: true,
  user_enabled: true,
  user_deleted: true,
  password_changed: true,
  user_sessions_revoked: true,
  client_created: true,
  client_updated: true,
  client_deleted: true,
  client_secret_rotated: true,
  api_created: true,
  api_updated: true,
  api_deleted: true,
  admin_key_created: true,
  admin_key_revoked: true,
  admin_auth_failure: true,
  admin_sign_in: true,
  admin_sign_out: true,
  mfa_enrolled: true,
  mfa_success: true,
  mfa_failure: true,
  mfa_reset: true,
  session_task_completed: true,
  user_signed_up: true,
  email_verification_sent: true,
  email_verified: true,
  password_reset_requested: true,
  password_reset: true,
  sign_up_setting_changed: true,
  passkey_registered: true,
  upstream_linked: true,
  passkey_removed: true,
  passkey_counter_regression: true,
  device_key_registered: true,
  device_key_removed: true,
  device_step_up_success: true,
  device_step_up_failure: true,
}
export const EVENT_TYPES = Object.keys(TYPES) as SecurityEventType[]

export function isEventType(s: string): s is SecurityEventType {
  return Object.hasOwn(TYPES, s)
}

export interface EventQuery {
  type?: SecurityEventType | undefined
  userId?: string | undefined
  clientId?: string | undefined
  sessionId?: string | undefined
  /** Events at or after this time (ms). */
  since?: number | undefined
  /** Events strictly before this time (ms). */
  before?: number | undefined
  limit?: number | undefined
  cursor?: string | undefined
}

/** The security event log, newest first, paged with the store's (at, id) keyset cursor. */
export class EventAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(q: EventQuery = {}): Promise<Page<SecurityEventRecord>> {
    const limit = q.limit ?? PAGE.default
    const after =
      q.cursor === undefined
        ? undefined
        : decodeCursor('events', q.cursor, ['number', 'string'] as const)
    const rows = await this.#d.store.listEvents({
      ...(q.type !== undefined ? { type: q.type } : {}),
      ...(q.userId !== undefined ? { userId: q.userId } : {}),
      ...(q.clientId !== undefined ? { clientId: q.clientId } : {}),
      ...(q.sessionId !== undefined ? { sessionId: q.sessionId } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.before !== undefined ? { before: q.before } : {}),
      ...(after ? { after: { at: after[0], id: after[1] } } : {}),
      limit: limit + 1,
    })
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return {
      items,
      nextCursor: rows.length > limit && last ? encodeCursor('events', [last.at, last.id]) : null,
    }
  }
}
