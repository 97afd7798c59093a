/**
 * Child process: Tessera on durable SQLite (SqliteStore, WAL, synchronous FULL) in a temp file,
 * with one public client and one API configured like the oidc-provider target.
 *
 * Answers `seed`: creates users and authorization codes through the Store API, exactly as
 * /authorize does after sign-in (and as test/helpers/grants.ts `mintCode` does); the bench then
 * redeems the codes at /oauth/token over HTTP.
 */
import { randomBytes } from 'node:crypto'
import type * as Resolve from '../../packages/server/src/config/resolve.js'
import type * as Crypto from '../../packages/server/src/lib/crypto.js'
import type * as Random from '../../packages/server/src/lib/random.js'
import type * as Server from '../../packages/server/src/server.js'
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
import { pkcePair } from '../lib/pkce.js'

// The server runs from its compiled build (packages/server/dist, which `npm run bench` builds
// first), as the `tessera` command runs it: plain tsc output, so CPU profiles name every function
// and line. The types come from the source.
const dist = new URL('../../packages/server/dist/', import.meta.url)
const load = <T>(path: string) => import(new URL(path, dist).href) as Promise<T>
const { resolveConfig } = await load<typeof Resolve>('config/resolve.js')
const { sha256b64u } = await load<typeof Crypto>('lib/crypto.js')
const { cryptoRandom } = await load<typeof Random>('lib/random.js')
const { createTesseraServer } = await load<typeof Server>('server.js')
const { SqliteStore } = await load<typeof Sqlite>('store/sqlite-store.js')
const { createUser } = await load<typeof Users>('users/create-user.js')

const dbFile = process.env.BENCH_DB_FILE
if (!dbFile) throw new Error('BENCH_DB_FILE is required')

const port = await freePort()
const config = resolveConfig({
  issuer: `http://127.0.0.1:${port}`,
  secret: randomBytes(32).toString('base64url'),
  database: { driver: 'sqlite', file: dbFile },
  logLevel: 'silent',
  // Only the seeding hashes passwords; the refresh path never does.
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
const store = new SqliteStore({ file: dbFile, synchronous })
const server = await createTesseraServer({ config, store })
const url = await server.listen(port, '127.0.0.1')
const { clock } = server.ctx

async function seed(msg: Record<string, unknown>) {
  const n = Number(msg.count)
  const codes: { code: string; verifier: string }[] = []
  for (let i = 0; i < n; i++) {
    const user = await createUser(
      { store, clock, random: cryptoRandom, passwordCost: config.passwordCost },
      { username: `bench-user-${i}`, password: randomBytes(16).toString('base64url') },
    )
    const { verifier, challenge } = pkcePair()
    const code = randomBytes(32).toString('base64url')
    const now = clock.now()
    await store.createCode({
      codeHash: sha256b64u(code),
      clientId: CLIENT_ID,
      userId: user.id,
      browserSessionId: null,
      redirectUri: REDIRECT_URI,
      scope: SCOPE,
      resources: [API_AUDIENCE],
      nonce: 'bench-nonce',
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      authTime: now,
      amr: ['pwd'],
      createdAt: now,
      expiresAt: now + config.codeTtlSeconds * 1000,
      consumedAt: null,
      sessionId: null,
      userAgent: 'tessera-bench',
      ip: '127.0.0.1',
    })
    codes.push({ code, verifier })
  }
  return codes
}

serveIpc({ url, dbFile, synchronous }, { seed }, () => server.close())
