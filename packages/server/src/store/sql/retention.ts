import type { Kysely } from 'kysely'
import type { Database } from '../sql-store.js'

/**
 * The deletes of the retention pass, one batch each: a `DELETE ... WHERE id IN (SELECT ... LIMIT
 * n)`, which SQLite (without SQLITE_ENABLE_UPDATE_DELETE_LIMIT) and PostgreSQL both run, so each
 * statement holds SQLite's write lock, or PostgreSQL's row locks, for a bounded number of rows.
 */

const LIVE = ['active', 'pending']

/** Deletes up to `limit` sessions that ended before `endedBefore`. */
export async function deleteEndedSessions(
  db: Kysely<Database>,
  endedBefore: number,
  limit: number,
): Promise<number> {
  const r = await db
    .deleteFrom('sessions')
    .where(
      'id',
      'in',
      db
        .selectFrom('sessions')
        .select('id')
        .where('ended_at', '<', endedBefore)
        .where('state', 'not in', LIVE)
        .limit(limit),
    )
    .where('state', 'not in', LIVE)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}

/**
 * Deletes up to `limit` browser sessions that were over before `before` (ended, past their
 * absolute end, or idle since `before - idleMs`) and that no live session belongs to: a later
 * sign-in in that browser moves its live sessions to the new browser session, and logout ends them
 * through it, so such a row must stay.
 */
export async function deleteBrowserSessions(
  db: Kysely<Database>,
  o: { before: number; idleMs: number; limit: number },
): Promise<number> {
  const r = await db
    .deleteFrom('browser_sessions')
    .where(
      'id',
      'in',
      db
        .selectFrom('browser_sessions as b')
        .select('b.id')
        .where((eb) =>
          eb.or([
            eb('b.ended_at', '<', o.before),
            eb('b.expires_at', '<', o.before),
            eb('b.last_active_at', '<', o.before - o.idleMs),
          ]),
        )
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('sessions as s')
                .select('s.id')
                .whereRef('s.browser_session_id', '=', 'b.id')
                .where('s.state', 'in', LIVE),
            ),
          ),
        )
        .limit(o.limit),
    )
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}

/** Deletes up to `limit` security events recorded before `before`. */
export async function deleteEvents(
  db: Kysely<Database>,
  before: number,
  limit: number,
): Promise<number> {
  const r = await db
    .deleteFrom('security_events')
    .where(
      'id',
      'in',
      db.selectFrom('security_events').select('id').where('at', '<', before).limit(limit),
    )
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
