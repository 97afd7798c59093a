import type { ServerContext } from '../context.js'
import type { RevokeAll } from '../store/store.js'
import type { SecurityEventRecord, SecurityEventType, SessionEndReason } from '../store/types.js'

/** What the admin services need: the server's context without HTTP, so the CLI can build it. */
export type AdminDeps = Pick<ServerContext, 'config' | 'store' | 'clock' | 'random' | 'events'>

/**
 * Who performs an admin action. Every action records a security event whose `data.actor` is
 * `{ kind, id, name, via }`, with the request's IP and user agent in the event's own fields.
 */
export interface Actor {
  /** `api_key`: an Admin API key (over HTTP or through the console); `cli`: the `tessera` CLI. */
  kind: 'api_key' | 'cli'
  /** The key: `ak_...` (made by the CLI) or `config:<name>` (from the configuration); `cli`. */
  id: string
  /** The key's name, or the operating-system user running the CLI. */
  name: string
  via: 'api' | 'console' | 'cli'
  ip: string | null
  userAgent: string | null
}

/** The subject of an admin event. */
export interface EventTarget {
  userId?: string | null
  clientId?: string | null
  sessionId?: string | null
}

/** A security event of an admin action, carrying its actor. */
export function adminEvent(
  deps: Pick<AdminDeps, 'events'>,
  actor: Actor,
  type: SecurityEventType,
  target: EventTarget,
  data: Record<string, unknown> = {},
): SecurityEventRecord {
  return deps.events.make(type, {
    ...target,
    ip: actor.ip,
    userAgent: actor.userAgent,
    data: { ...data, actor: { kind: actor.kind, id: actor.id, name: actor.name, via: actor.via } },
  })
}

/** Revocation of sessions by an admin action: each ended session gets a `session_revoked` event
 * with the reason and the actor. */
export function revocation(
  deps: Pick<AdminDeps, 'events' | 'clock'>,
  actor: Actor,
  reason: SessionEndReason,
): RevokeAll {
  return {
    reason,
    now: deps.clock.now(),
    event: (s) =>
      adminEvent(
        deps,
        actor,
        'session_revoked',
        { userId: s.userId, clientId: s.clientId, sessionId: s.id },
        { reason },
      ),
  }
}
