import { Conflict, NotFound } from '../../oauth/errors.js'
import type { SessionState } from '../../store/types.js'
import { revocation, type Actor, type AdminDeps } from '../actor.js'
import { decodeCursor, encodeCursor, PAGE, type Page } from './cursor.js'
import { sessionView, type SessionView } from './views.js'

/** Session states, for validating filters (the Record keeps the list complete). */
const STATES: Record<SessionState, true> = {
  active: true,
  pending: true,
  ended: true,
  expired: true,
  abandoned: true,
  revoked: true,
  removed: true,
  replaced: true,
}
export const SESSION_STATES = Object.keys(STATES) as SessionState[]

export function isSessionState(s: string): s is SessionState {
  return Object.hasOwn(STATES, s)
}

export interface SessionQuery {
  userId?: string | undefined
  clientId?: string | undefined
  state?: SessionState | undefined
  limit?: number | undefined
  cursor?: string | undefined
}

/**
 * Client sessions (one refresh family each), newest first. States are as stored: the maintenance
 * pass marks sessions past their lifetimes `expired` or `abandoned` every
 * `maintenanceIntervalSeconds`.
 */
export class SessionAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(q: SessionQuery = {}): Promise<Page<SessionView>> {
    const limit = q.limit ?? PAGE.default
    const after =
      q.cursor === undefined
        ? undefined
        : decodeCursor('sessions', q.cursor, ['number', 'string'] as const)
    const rows = await this.#d.store.listSessions({
      ...(q.userId !== undefined ? { userId: q.userId } : {}),
      ...(q.clientId !== undefined ? { clientId: q.clientId } : {}),
      ...(q.state !== undefined ? { state: q.state } : {}),
      ...(after ? { after: { createdAt: after[0], id: after[1] } } : {}),
      limit: limit + 1,
    })
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return {
      items: items.map(sessionView),
      nextCursor:
        rows.length > limit && last ? encodeCursor('sessions', [last.createdAt, last.id]) : null,
    }
  }

  async get(id: string): Promise<SessionView> {
    const s = await this.#d.store.getSession(id)
    if (!s) throw new NotFound(`no session ${id}`)
    return sessionView(s)
  }

  /** Revokes one session (reason `admin`): its refresh tokens are refused and its access tokens
   * introspect inactive. The browser's SSO session stays; revoke the user's sessions to end it. */
  async revoke(actor: Actor, id: string): Promise<SessionView> {
    const s = await this.#d.store.getSession(id)
    if (!s) throw new NotFound(`no session ${id}`)
    const ended = await this.#d.store.endSessions(
      { sessionId: id },
      'revoked',
      'admin',
      this.#d.clock.now(),
      revocation(this.#d, actor, 'admin').event,
    )
    if (ended.length === 0) {
      const now = await this.#d.store.getSession(id)
      throw new Conflict(`session ${id} has already ended (${now?.state ?? s.state})`)
    }
    return this.get(id)
  }
}
