/**
 * What a database error means for the request that met it:
 * - `busy`: contention (a serialization failure or deadlock left after the store's own retries, a
 *   lock or statement timeout); the transaction was rolled back and a retry soon will likely work.
 * - `unavailable`: the database cannot be reached or is shutting down or failing over; nothing
 *   was answered from it, and the server recovers by itself when it is back.
 * Both are answered 503 `temporarily_unavailable` with Retry-After, never `server_error`.
 * Anything else (a constraint violation, a bug) is not a store failure.
 */
export type StoreFailure = 'busy' | 'unavailable'

/** Messages of `pg` and `pg-pool` errors that carry no SQLSTATE or errno. */
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
]

/** Set on an error raised while the store acquired a connection (see `atConnect`). */
const CONNECTING = Symbol('tessera.storeConnecting')

/**
 * Marks `err` as raised while a connection was being acquired (a new connection's start-up, or the
 * wait for one from the pool), and returns it. Whatever the reason (the database refuses
 * connections: 55000 `ALLOW_CONNECTIONS false`, 57P03 starting up, 28000 / 28P01 / 42501 login
 * refused, 3D000 no such database, 53300 too many connections; ECONNREFUSED; a pool timeout), no
 * statement of the request ran: the database is unavailable to us, and the request is answered
 * 503 like any outage. The same SQLSTATEs raised by a statement (55000 from a query, say) are
 * not marked and stay bugs.
 */
export function atConnect<E>(err: E): E {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err)) {
    Object.defineProperty(err, CONNECTING, { value: true })
  }
  return err
}

export function storeFailure(err: unknown): StoreFailure | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  if ((err as { [CONNECTING]?: boolean })[CONNECTING] === true) return 'unavailable'
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') {
    // SQLite reports extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_IOERR_FSYNC, ...).
    if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN)/.test(code)) return 'unavailable'
    // Node socket and DNS errors on the way to PostgreSQL.
    if (
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(
        code,
      )
    ) {
      return 'unavailable'
    }
    // PostgreSQL SQLSTATEs: 40001 serialization failure, 40P01 deadlock, 55P03 lock not available
    // (lock_timeout), 57014 query canceled (statement_timeout).
    if (['40001', '40P01', '55P03', '57014'].includes(code)) return 'busy'
    // 08 connection exceptions, 57P0x shutdowns, 53 insufficient resources (too many
    // connections), 25006 read-only transaction (a failover reached a standby), 40003 statement
    // completion unknown.
    if (/^(08|57P0|53)/.test(code) || code === '25006' || code === '40003') return 'unavailable'
    // Refused logins and a missing database only ever come from a connection's start-up.
    if (/^28/.test(code) || code === '3D000') return 'unavailable'
  }
  // PostgreSQL ends the session with a FATAL error (an administrator's command, a shutdown): the
  // connection is gone, the statement did not complete.
  if ((err as { severity?: unknown }).severity === 'FATAL') return 'unavailable'
  const message = (err as { message?: unknown }).message
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) {
    return 'unavailable'
  }
  return undefined
}
