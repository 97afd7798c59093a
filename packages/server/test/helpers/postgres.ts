import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store.js'

/**
 * The PostgreSQL the tests run against: the machine's (trust auth, database `test`), or
 * `TESSERA_TEST_DATABASE_URL`. PostgreSQL tests never skip: when it cannot be reached they fail
 * with a message saying so.
 */
export const PG_URL =
  process.env.TESSERA_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A connection of the test's own, outside any store (DDL, fault injection, inspecting rows). */
export async function adminClient(opts: { schema?: string } = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: PG_URL,
    connectionTimeoutMillis: 5000,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  })
  client.on('error', () => undefined)
  try {
    await client.connect()
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err)
    throw new Error(
      `PostgreSQL is not reachable at ${redact(PG_URL)} (${why}); these tests need it: start it ` +
        'or set TESSERA_TEST_DATABASE_URL',
    )
  }
  return client
}

export interface TestSchema {
  /** `tessera_t_<random>`: fresh and empty. */
  name: string
  /** A store on this schema (the pool's search_path points at it). */
  store(opts?: Omit<PostgresStoreOptions, 'url' | 'schema'>): PostgresStore
  /** A connection of the test's own with search_path set to the schema. */
  admin(): Promise<pg.Client>
  /** Drops the schema and everything in it. */
  drop(): Promise<void>
}

/** Creates a fresh schema; every test file (or test) gets its own, dropped afterwards. */
export async function createTestSchema(): Promise<TestSchema> {
  const name = `tessera_t_${randomBytes(6).toString('hex')}`
  const c = await adminClient()
  try {
    await c.query(`create schema ${name}`)
  } finally {
    await c.end()
  }
  return {
    name,
    store: (opts = {}) => new PostgresStore({ ...opts, url: PG_URL, schema: name }),
    admin: () => adminClient({ schema: name }),
    async drop() {
      const d = await adminClient()
      try {
        await d.query(`drop schema if exists ${name} cascade`)
      } finally {
        await d.end()
      }
    },
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'TESSERA_TEST_DATABASE_URL'
  }
}
