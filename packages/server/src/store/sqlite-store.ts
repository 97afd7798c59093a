import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { Kysely, sql, type SqliteDatabase, type SqliteStatement } from 'kysely'
import { CommitBatcher } from './commit-batcher.js'
import { loadDriver, type PackageLoader } from './optional-package.js'
import { retryBusy, SqliteBusyDialect, SYNC_BUSY_MS } from './sqlite-busy.js'
import {
  SqlStore,
  toSession,
  toUser,
  type Database,
  type SessionsTable,
  type UsersTable,
} from './sql-store.js'
import type { PoolStats } from './store.js'
import type { SessionRecord, UserRecord } from './types.js'
import { BoundedMap } from '../lib/bounded-map.js'

export interface SqliteStoreOptions {
  /** Path of the database file; `:memory:` for a throwaway database. */
  file: string
  /** `FULL` (default) fsyncs every commit: a committed rotation survives power loss. `NORMAL`
   * survives process crashes only. */
  synchronous?: 'FULL' | 'NORMAL'
  /** Milliseconds a write waits for another connection's write lock (another process: the admin
   * CLI, a backup, `sqlite3`) before failing with `SQLITE_BUSY`, answered 503 with Retry-After.
   * The wait is asynchronous: the server goes on answering other requests meanwhile (SQLite
   * itself waits at most 2 ms at a time; see `SqliteBusyDialect`). Default 5000. */
  busyTimeoutMs?: number
  /** Loads the `better-sqlite3` package (an optional dependency). Default: `require`. Tests pass
   * one that fails as a missing package does. */
  loadPackage?: PackageLoader
}

/**
 * The embedded default store: one SQLite file in WAL mode. One process owns the file; run
 * PostgreSQL to scale out to several server instances.
 */
export class SqliteStore extends SqlStore {
  readonly kind = 'sqlite'
  readonly file: string

  constructor(opts: SqliteStoreOptions) {
    const busyTimeout = opts.busyTimeoutMs ?? 5000
    if (!Number.isInteger(busyTimeout) || busyTimeout < 0) {
      throw new RangeError('busyTimeoutMs must be a whole number of milliseconds >= 0')
    }
    const Sqlite = loadDriver<typeof BetterSqlite3>('better-sqlite3', opts.loadPackage)
    if (opts.file !== ':memory:') mkdirSync(dirname(opts.file), { recursive: true })
    const database = new Sqlite(opts.file)
    // Opening waits synchronously for the whole budget (nothing is served yet); afterwards SQLite
    // waits at most SYNC_BUSY_MS at a time and the rest of the wait is asynchronous (REL-14).
    database.pragma(`busy_timeout = ${busyTimeout}`)
    database.pragma('journal_mode = WAL')
    database.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`)
    database.pragma('foreign_keys = ON')
    // A 16 MiB page cache and memory-mapped reads: +13% refresh throughput in the benchmark.
    database.pragma('cache_size = -16000')
    database.pragma('mmap_size = 268435456')
    database.pragma(`busy_timeout = ${Math.min(busyTimeout, SYNC_BUSY_MS)}`)
    const dialect = new SqliteBusyDialect(
      { database: cachingStatements(database) },
      database,
      busyTimeout,
    )
    super(new Kysely<Database>({ dialect }))
    this.#dialect = dialect
    this.file = opts.file
    this.#busyTimeoutMs = busyTimeout
    this.#batcher = new CommitBatcher(this.db)
    if (opts.file !== ':memory:') {
      const reader = new Sqlite(opts.file, { readonly: true })
      reader.pragma(`busy_timeout = ${Math.min(busyTimeout, SYNC_BUSY_MS)}`)
      reader.pragma('cache_size = -16000')
      reader.pragma('mmap_size = 268435456')
      this.#hot = {
        main: new FastReads(database),
        reader: new FastReads(reader),
        inTransaction: () => database.inTransaction,
        close: () => reader.close(),
      }
    }
  }

  readonly #batcher: CommitBatcher<Database>
  readonly #busyTimeoutMs: number
  readonly #dialect: SqliteBusyDialect

  /**
   * The two reads of every refresh (session and user) run as plain prepared statements: no Kysely
   * query building, and no wait for the connection's lock while a group commit or another
   * transaction is in progress. They use the main connection when it has no transaction open (its
   * page cache is warm, as it wrote the pages), otherwise a second, read-only connection, which in
   * WAL mode reads the last committed state, never a transaction's uncommitted writes.
   * better-sqlite3 is synchronous, so nothing can begin a transaction between the check and the
   * read. `:memory:` has no second connection (it would open another database): there the reads
   * go through Kysely.
   */
  readonly #hot:
    | { main: FastReads; reader: FastReads; inTransaction: () => boolean; close: () => void }
    | undefined

  #fastReads(): FastReads | undefined {
    const h = this.#hot
    if (!h) return undefined
    return h.inTransaction() ? h.reader : h.main
  }

  // WAL readers do not wait for writers; only a checkpoint or WAL recovery by another process
  // can make them busy for a moment, and that wait is asynchronous too.
  override async getSession(id: string): Promise<SessionRecord | undefined> {
    if (!this.#hot) return super.getSession(id)
    const row = await retryBusy(performance.now() + this.#busyTimeoutMs, () =>
      this.#fastReads()!.session(id),
    )
    return row ? toSession(row) : undefined
  }

  protected override async readUser(id: string): Promise<UserRecord | undefined> {
    if (!this.#hot) return super.readUser(id)
    const row = await retryBusy(performance.now() + this.#busyTimeoutMs, () =>
      this.#fastReads()!.user(id),
    )
    return row ? toUser(row) : undefined
  }

  override async close(): Promise<void> {
    // The read-only connection first: the last connection to close checkpoints and removes the
    // WAL file, which a read-only one cannot do.
    this.#hot?.close()
    await super.close()
  }

  /** Concurrent rotations share one commit (one fsync) instead of queueing one fsync each. */
  protected override hotWrite<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#batcher.submit((trx) => run(trx))
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  /**
   * The connections, for `/metrics`: the read-write one, which serves one query or transaction
   * at a time (the others wait for it), and the read-only one of the refresh path (none for
   * `:memory:`), whose synchronous reads never hold it across an await, so it is idle whenever
   * this is read.
   */
  poolStats(): PoolStats {
    const { inUse, waiting } = this.#dialect.usage()
    const total = this.#hot ? 2 : 1
    return { total, idle: total - Math.min(inUse, 1), waiting }
  }
}

/** Prepared on first use, after the migrations have created the tables. */
class FastReads {
  readonly #db: BetterSqlite3.Database
  #session: BetterSqlite3.Statement<[string], SessionsTable> | undefined
  #user: BetterSqlite3.Statement<[string], UsersTable> | undefined

  constructor(db: BetterSqlite3.Database) {
    this.#db = db
  }

  session(id: string): SessionsTable | undefined {
    this.#session ??= this.#db.prepare('select * from sessions where id = ?')
    return this.#session.get(id)
  }

  user(id: string): UsersTable | undefined {
    this.#user ??= this.#db.prepare('select * from users where id = ?')
    return this.#user.get(id)
  }
}

/**
 * Kysely prepares every statement anew, which the refresh benchmark showed as 14% of the hot
 * path. The SQL text of a query shape never changes, so prepared statements are kept by text (at
 * most 256); better-sqlite3 runs them synchronously, so one statement is never used twice at once,
 * and SQLite re-prepares by itself after a schema change.
 */
function cachingStatements(db: BetterSqlite3.Database, max = 256): SqliteDatabase {
  const cache = new BoundedMap<string, SqliteStatement>(max)
  return {
    close: () => db.close(),
    prepare(text: string): SqliteStatement {
      let stmt = cache.get(text)
      if (!stmt) {
        stmt = db.prepare(text)
        cache.set(text, stmt)
      }
      return stmt
    },
  }
}
