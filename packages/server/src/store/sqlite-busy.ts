import type BetterSqlite3 from 'better-sqlite3'
import {
  CompiledQuery,
  SqliteDialect,
  type DatabaseConnection,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
  type TransactionSettings,
} from 'kysely'

/**
 * Milliseconds SQLite itself may wait, synchronously, for another connection's lock before a
 * statement fails with SQLITE_BUSY. better-sqlite3 runs on the event loop's thread, so this is
 * how long one attempt can block every request of the process; the rest of the wait is
 * asynchronous (see `retryBusy`).
 */
export const SYNC_BUSY_MS = 2

/** Pauses between attempts: 2 ms doubling to 50 ms, with jitter, so the wait follows a short
 * hold closely and a long one costs a few attempts a second. */
function pause(attempt: number): number {
  const base = Math.min(50, 2 * 2 ** attempt)
  return base / 2 + Math.random() * (base / 2)
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Runs `attempt` until it does not fail with SQLITE_BUSY, pausing asynchronously in between,
 * until `deadline` (a `performance.now()` time); then the last SQLITE_BUSY is thrown (answered
 * 503 with Retry-After). Only for attempts that leave nothing behind when they fail busy: a
 * statement in autocommit mode (SQLite rolled its implicit transaction back), a
 * `BEGIN IMMEDIATE`, a read.
 */
export async function retryBusy<T>(deadline: number, attempt: () => T | Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (err) {
      const left = deadline - performance.now()
      if (!isBusy(err) || left <= 0) throw err
      await sleep(Math.min(pause(n), left))
    }
  }
}

/**
 * Kysely's SQLite dialect with a waiting that keeps the event loop free (REL-14). better-sqlite3
 * waits for a lock synchronously (SQLite's busy handler sleeps on the calling thread), so with a
 * busy timeout of seconds, another process holding the write lock (the admin CLI, a backup,
 * `sqlite3`) froze the whole server, `/healthz` included. Here SQLite waits at most
 * SYNC_BUSY_MS, and the wait for the lock goes on asynchronously, up to the configured budget:
 * - transactions begin with `BEGIN IMMEDIATE`, which takes the write lock up front: it is the
 *   one statement of a transaction that can meet the lock, it fails without leaving anything
 *   behind, and it is retried. Inside the transaction nothing can be busy any more (one writer),
 *   and a deferred transaction can no longer fail half-way when it upgrades to a writer;
 * - a statement outside a transaction (every single-statement write) is retried as it is: SQLite
 *   rolled its implicit transaction back;
 * - a statement inside a transaction is never retried alone: the error ends the transaction,
 *   which Kysely rolls back.
 * One connection serves every query (Kysely's driver holds a mutex for it); queries wait for it
 * asynchronously while a write waits for the lock, so the event loop stays free. The budget runs
 * from the moment a query or transaction asks for the connection, so writes queued behind one
 * that waits for the lock give up together, not one budget after another.
 */
export class SqliteBusyDialect extends SqliteDialect {
  readonly #db: BetterSqlite3.Database
  readonly #budgetMs: number

  constructor(config: SqliteDialectConfig, db: BetterSqlite3.Database, budgetMs: number) {
    super(config)
    this.#db = db
    this.#budgetMs = budgetMs
  }

  #driver: BusyDriver | undefined

  override createDriver(): Driver {
    this.#driver = new BusyDriver(super.createDriver(), this.#db, this.#budgetMs)
    return this.#driver
  }

  /** The one connection now: whether a query or transaction holds it, and how many wait. */
  usage(): { inUse: number; waiting: number } {
    return this.#driver?.usage() ?? { inUse: 0, waiting: 0 }
  }
}

class BusyDriver implements Driver {
  readonly #inner: Driver
  readonly #db: BetterSqlite3.Database
  readonly #budgetMs: number

  constructor(inner: Driver, db: BetterSqlite3.Database, budgetMs: number) {
    this.#inner = inner
    this.#db = db
    this.#budgetMs = budgetMs
  }

  init(): Promise<void> {
    return this.#inner.init()
  }

  #waiting = 0
  #inUse = 0

  usage(): { inUse: number; waiting: number } {
    return { inUse: this.#inUse, waiting: this.#waiting }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const deadline = performance.now() + this.#budgetMs
    this.#waiting++
    let inner: DatabaseConnection
    try {
      inner = await this.#inner.acquireConnection()
    } finally {
      this.#waiting--
    }
    this.#inUse++
    return new BusyConnection(inner, this.#db, deadline)
  }

  async beginTransaction(connection: DatabaseConnection, _s: TransactionSettings): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    this.#inUse--
    await this.#inner.releaseConnection((connection as BusyConnection).inner)
  }

  destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

class BusyConnection implements DatabaseConnection {
  readonly inner: DatabaseConnection
  readonly #db: BetterSqlite3.Database
  readonly #deadline: number

  constructor(inner: DatabaseConnection, db: BetterSqlite3.Database, deadline: number) {
    this.inner = inner
    this.#db = db
    this.#deadline = deadline
  }

  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Inside a transaction a busy statement is not retried alone (see SqliteBusyDialect).
    if (this.#db.inTransaction) return this.inner.executeQuery<R>(query)
    return retryBusy(this.#deadline, () => this.inner.executeQuery<R>(query))
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize)
  }
}
