/**
 * Child process: Tessera with one public client and one API configured like the oidc-provider
 * target, on durable SQLite (SqliteStore, WAL, synchronous FULL) in a temp file, or, with
 * BENCH_PG_URL and BENCH_PG_SCHEMA, on PostgreSQL (PostgresStore, a pool of BENCH_PG_POOL
 * connections). Several instances on one schema share BENCH_SECRET and BENCH_ISSUER, as behind a
 * load balancer.
 *
 * Answers `users`: creates users through the Store API (Tessera has no sign-up page); the bench
 * then signs each in through /authorize and the hosted sign-in page, over HTTP.
 */
import { randomBytes } from 'node:crypto'
import type * as Resolve from '../../packages/server/src/config/resolve.js'
import type * as Random from '../../packages/server/src/lib/random.js'
import type * as Server from '../../packages/server/src/server.js'
import type * as Postgres from '../../packages/server/src/store/postgres-store.js'
import type * as Sqlite from '../../packages/server/src/store/sqlite-store.js'
import type * as Users from '../../packages/server/src/users/create-user.js'
import {
  ACCESS_TOKEN_TTL_SECONDS,
  API_AUDIENCE,
  API_SCOPE,
  CLIENT_ID,
  REDIRECT_URI,
  SCOPE,
} from '../lib/constants.js'
import { serveIpc } from '../lib/ipc.js'
import { freePort } from '../lib/net.js'

// The server runs from its compiled build (packages/server/dist, which `npm run bench` builds
// first), as the `tessera` command runs it: plain tsc output, so CPU profiles name every function
// and line. The types come from the source.
const dist = new URL('../../packages/server/dist/', import.meta.url)
const load = <T>(path: string) => import(new URL(path, dist).href) as Promise<T>
const { resolveConfig } = await load<typeof Resolve>('config/resolve.js')
const { cryptoRandom } = await load<typeof Random>('lib/random.js')
const { createTesseraServer } = await load<typeof Server>('server.js')
const { SqliteStore } = await load<typeof Sqlite>('store/sqlite-store.js')
const { PostgresStore } = await load<typeof Postgres>('store/postgres-store.js')
const { createUser } = await load<typeof Users>('users/create-user.js')

const dbFile = process.env.BENCH_DB_FILE
const pgUrl = process.env.BENCH_PG_URL
const pgSchema = process.env.BENCH_PG_SCHEMA
const pgPool = Number(process.env.BENCH_PG_POOL ?? 10)
if (!dbFile && !(pgUrl && pgSchema)) {
  throw new Error('BENCH_DB_FILE, or BENCH_PG_URL and BENCH_PG_SCHEMA, are required')
}

const port = await freePort()
const config = resolveConfig({
  issuer: process.env.BENCH_ISSUER ?? `http://127.0.0.1:${port}`,
  secret: process.env.BENCH_SECRET ?? randomBytes(32).toString('base64url'),
  database:
    pgUrl && pgSchema
      ? { driver: 'postgres', url: pgUrl, schema: pgSchema, poolSize: pgPool }
      : { driver: 'sqlite', file: dbFile! },
  logLevel: 'silent',
  // Only the sign-ins before the load hash passwords; the refresh path never does.
  passwordCost: { N: 1024, r: 8, p: 1 },
  apis: [
    {
      audience: API_AUDIENCE,
      scopes: [API_SCOPE],
      accessTokenTtlSeconds: ACCESS_TOKEN_TTL_SECONDS,
    },
  ],
  clients: [
    {
      id: CLIENT_ID,
      redirectUris: [REDIRECT_URI],
      audiences: [API_AUDIENCE],
      scopes: SCOPE.split(' '),
    },
  ],
})
// FULL unless a diagnostic run asks for NORMAL (BENCH_TESSERA_SYNCHRONOUS) to see the cost of fsync.
const synchronous = process.env.BENCH_TESSERA_SYNCHRONOUS === 'NORMAL' ? 'NORMAL' : 'FULL'
const store =
  pgUrl && pgSchema
    ? new PostgresStore({ url: pgUrl, schema: pgSchema, poolSize: pgPool })
    : new SqliteStore({ file: dbFile!, synchronous })
const server = await createTesseraServer({ config, store })
const url = await server.listen(port, '127.0.0.1')

/** Creates `count` users with random passwords, through the Store API (there is no sign-up page). */
async function users(msg: Record<string, unknown>) {
  const out: { username: string; password: string }[] = []
  for (let i = 0; i < Number(msg.count); i++) {
    const username = `bench-user-${i}`
    const password = randomBytes(16).toString('base64url')
    await createUser(
      { store, clock: server.ctx.clock, random: cryptoRandom, passwordCost: config.passwordCost },
      { username, password },
    )
    out.push({ username, password })
  }
  return out
}

serveIpc({ url, dbFile, synchronous, store: store.kind }, { users }, () => server.close())
