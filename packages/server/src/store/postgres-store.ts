import { Kysely, PostgresDialect, sql } from 'kysely'
import type pg from 'pg'
import { SqlStore, type Database } from './sql-store.js'
import { loadDriver, type PackageLoader } from './optional-package.js'
import { atConnect } from './store-failure.js'

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database`; parsed by `pg`, never logged. */
  url: string
  /** Connections in the pool, at most. Requests beyond it wait for a free connection (up to
   * `connectTimeoutMs`). Default 10. */
  poolSize?: number
  /** Milliseconds PostgreSQL lets one statement run before cancelling it (`statement_timeout`);
   * the request is answered 503 with Retry-After. Default 5000. */
  statementTimeoutMs?: number
  /** Milliseconds to wait for a connection, from the pool or a new one, before answering 503.
   * Default 5000. */
  connectTimeoutMs?: number
  /** Schema the tables live in (the connection's `search_path`). Default: the role's search_path,
   * normally `public`. */
  schema?: string
  /** Attempts at a transaction that fails with a serialization failure (40001) or a deadlock
   * (40P01) before the error is answered as a retryable 503. Default 4. */
  maxAttempts?: number
  /** Loads the `pg` package (an optional dependency). Default: `require`. Tests pass one that
   * fails as a missing package does. */
  loadPackage?: PackageLoader
}

/** SQLSTATEs after which the whole transaction was rolled back and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01'])

/** A schema name we put into a connection option unquoted: letters, digits, `_`, `$`. */
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/

/**
 * The store for several server instances: PostgreSQL through a `pg` pool.
 *
 * Every write is one statement or one transaction in READ COMMITTED. A refresh is one conditional
 * `UPDATE ... WHERE generation = $expected AND state = 'active'`: PostgreSQL locks the row, and a
 * concurrent update of the same row waits for the first to commit and then re-checks its `WHERE`
 * against the committed row, so exactly one of any number of concurrent rotations matches.
 * Serialization failures and deadlocks (possible in the multi-row writes, or with a stricter
 * default isolation level) roll the transaction back; it is run again a bounded number of times,
 * then the error surfaces and is answered 503 with Retry-After, never half-written.
 *
 * @example
 * ```ts
 * const store = new PostgresStore({ url: process.env.DATABASE_URL!, poolSize: 20 })
 * await store.migrate()
 * ```
 */
/** How long one migration statement may run (or wait for another instance's migration lock). */
const MIGRATION_TIMEOUT_MS = 300_000

export class PostgresStore extends SqlStore {
  readonly kind = 'postgres'
  readonly #pool: pg.Pool
  readonly #maxAttempts: number
  readonly #counters: { connectionErrors: number }
  readonly #migrationPool: () => pg.Pool

  constructor(opts: PostgresStoreOptions) {
    const poolSize = opts.poolSize ?? 10
    const statementTimeout = opts.statementTimeoutMs ?? 5000
    const connectTimeout = opts.connectTimeoutMs ?? 5000
    const maxAttempts = opts.maxAttempts ?? 4
    positiveInt('poolSize', poolSize)
    positiveInt('statementTimeoutMs', statementTimeout)
    positiveInt('connectTimeoutMs', connectTimeout)
    positiveInt('maxAttempts', maxAttempts)
    if (opts.schema !== undefined && !SCHEMA_NAME.test(opts.schema)) {
      throw new RangeError('schema must be a plain identifier (letters, digits, _ and $)')
    }
    const { url, options } = withSearchPath(opts.url, opts.schema)
    const { Pool } = loadDriver<typeof pg>('pg', opts.loadPackage)
    const pool = new Pool({
      connectionString: url,
      max: poolSize,
      connectionTimeoutMillis: connectTimeout,
      idleTimeoutMillis: 30_000,
      statement_timeout: statementTimeout,
      // A backstop for a connection that went silent (no RST, no answer): the request fails
      // instead of hanging; the server-side statement_timeout normally fires first.
      query_timeout: statementTimeout + 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: 'tessera',
      ...(options !== undefined ? { options } : {}),
    })
    const counters = { connectionErrors: 0 }
    // A connection that dies (database restart, network cut) emits 'error'; with no listener that
    // would end the process. The pool listens only while a connection is idle, so every connection
    // gets a listener of its own for the time it is checked out: the query under way fails (503)
    // and the pool drops the connection when it is released.
    const lost = (): void => {
      counters.connectionErrors++
    }
    pool.on('error', lost)
    pool.on('connect', (client) => {
      client.on('error', lost)
    })
    // Kysely acquires a connection per query or transaction; whatever fails there is the
    // database being unavailable (REL-16), whatever its SQLSTATE: marked for the error mapping.
    const acquiring = {
      connect: async () => {
        try {
          return await pool.connect()
        } catch (err) {
          throw atConnect(err as Error)
        }
      },
      end: () => pool.end(),
    }
    super(new Kysely<Database>({ dialect: new PostgresDialect({ pool: acquiring }) }))
    // Migrations take locks and may wait for another instance's migration, then create tables and
    // indexes: work the request-sized statement_timeout (a quarter second in some deployments) is
    // not meant for. They run on one connection of their own with a bound of minutes.
    this.#migrationPool = () => {
      const migrating = new Pool({
        connectionString: url,
        max: 1,
        connectionTimeoutMillis: connectTimeout,
        statement_timeout: MIGRATION_TIMEOUT_MS,
        query_timeout: MIGRATION_TIMEOUT_MS + 5000,
        application_name: 'tessera-migrate',
        ...(options !== undefined ? { options } : {}),
      })
      migrating.on('error', lost)
      return migrating
    }
    this.#counters = counters
    this.#pool = pool
    this.#maxAttempts = maxAttempts
  }

  protected override hotWrite<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#retrying(() => run(this.db))
  }

  protected override write<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#retrying(() => run(this.db))
  }

  protected override transaction<T>(run: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#retrying(() => this.db.transaction().execute(run))
  }

  protected override async lockSigningKeys(trx: Kysely<Database>): Promise<void> {
    // Self-conflicting but not blocking readers: two instances starting on an empty database
    // queue here, and the second finds the first one's key.
    await sql`lock table signing_keys in share row exclusive mode`.execute(trx)
  }

  /**
   * Kysely's migrator looks for its bookkeeping table in every schema unless told which; pin it to
   * the schema our tables are created in, so databases holding several Tessera schemas work.
   */
  protected override async migratorOptions(): Promise<{ migrationTableSchema?: string }> {
    const { rows } = await sql<{
      schema: string | null
    }>`select current_schema() as schema`.execute(this.db)
    const schema = rows[0]?.schema
    if (!schema) {
      throw new Error('no schema to create tables in: the search_path names no existing schema')
    }
    return { migrationTableSchema: schema }
  }

  /**
   * Kysely's migrator finds its bookkeeping tables by introspecting every schema of the database,
   * resolving each schema by name; a schema that another session drops at that moment fails the
   * whole query with 3F000 (invalid_schema_name), though it has nothing to do with ours. That is
   * retried a few times; our own schema missing fails every attempt and surfaces.
   */
  override async migrate(): Promise<void> {
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: this.#migrationPool() }),
    })
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.migrateWith(db)
          return
        } catch (err) {
          if ((err as { code?: unknown }).code !== '3F000' || attempt >= 3) throw err
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt))
        }
      }
    } finally {
      await db.destroy()
    }
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db)
  }

  /** The pool now: connections open, idle, requests waiting for one, and connection errors so
   * far (the database went away under a connection). For diagnostics and tests. */
  poolStats(): { total: number; idle: number; waiting: number; connectionErrors: number } {
    return {
      total: this.#pool.totalCount,
      idle: this.#pool.idleCount,
      waiting: this.#pool.waitingCount,
      connectionErrors: this.#counters.connectionErrors,
    }
  }

  async #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt()
      } catch (err) {
        if (n >= this.#maxAttempts || !RETRYABLE.has(sqlState(err) ?? '')) throw err
        // Jittered backoff, so the transactions that collided do not collide again.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** n))
      }
    }
  }
}

/**
 * The connection URL and startup `options` that put `schema` first on the search_path. pg lets the
 * URL's parameters win over the ones passed beside it, so an `options` parameter already in the
 * URL is moved out of it and kept, with the search_path added after it.
 */
function withSearchPath(
  url: string,
  schema: string | undefined,
): { url: string; options?: string } {
  if (schema === undefined) return { url }
  const searchPath = `-c search_path=${schema}`
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url, options: searchPath }
  }
  const own = parsed.searchParams.get('options')
  if (own === null) return { url, options: searchPath }
  parsed.searchParams.delete('options')
  return { url: parsed.toString(), options: `${own} ${searchPath}` }
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a whole number >= 1`)
}
