/**
 * Figures for @tessera/client (printed; no test asserts on speed):
 *
 * 1. cached `getToken` calls per second (the token is fresh; each call checks expiry on read);
 * 2. a storm of concurrent `getToken` calls (default 1,000) on an expired token, and how many
 *    refresh requests reached the server (must be 1), also read from the server's database.
 *
 *   npm run bench                         # builds, then runs every benchmark, this one last
 *   node --import tsx bench/client/run.ts  # after `npm run build`
 *   Env: BENCH_CLIENT_SECONDS (cached-call measuring time, default 2), BENCH_STORM (calls in the
 *   storm, default 1000), BENCH_STORM_ROUNDS (storms, each on a freshly expired token, default 5).
 *
 * The client is the compiled package (`@tessera/client` from packages/client/dist, as users get
 * it), in this process, with memory storage. The server is a real Tessera (the bench's Tessera
 * target: compiled build, SQLite with synchronous FULL) in its own process; the user signs in
 * through /authorize and the hosted sign-in form over HTTP. The token is made stale by moving the
 * client's clock past the access token's lifetime; the server needs no change for that. The exit
 * code is 1 when a storm made any number of refresh requests but one.
 */
import { cpus, loadavg } from 'node:os'
import BetterSqlite3 from 'better-sqlite3'
import {
  createTesseraClient,
  memoryStorage,
  type FetchLike,
  type TesseraClient,
} from '@tessera/client'
import { Browser, formFields, redirectOf } from '../lib/browser.js'
import { staleBuild } from '../lib/build-check.js'
import {
  ACCESS_TOKEN_TTL_SECONDS,
  API_AUDIENCE,
  API_SCOPE,
  CLIENT_ID,
  REDIRECT_URI,
} from '../lib/constants.js'
import { startTessera } from '../targets/tessera.js'
import { envNumber } from '../lib/env.js'
import { ShiftedClock } from '../../packages/client/test/helpers/clocks.js'

const SECONDS = envNumber('BENCH_CLIENT_SECONDS', 2, 0.5, 600)
const STORM = envNumber('BENCH_STORM', 1000, 2, 100_000)
const ROUNDS = envNumber('BENCH_STORM_ROUNDS', 5, 1, 100)

const log = (s = '') => process.stdout.write(s + '\n')

const stale = staleBuild('client')
if (stale.length > 0) {
  throw new Error(
    `packages/client/dist is older than ${stale.slice(0, 3).join(', ')}: run \`npm run build\` (npm run bench does)`,
  )
}

/** The real clock, moved forward by `offset` milliseconds, with real timers. */
const clock = new ShiftedClock()

/** Counts the refresh requests the client sends. */
let refreshRequests = 0
const countingFetch: FetchLike = async (input, init) => {
  const req = new Request(input, init)
  if (req.method === 'POST' && new URL(req.url).pathname === '/oauth/token') {
    const body = new URLSearchParams(await req.clone().text())
    if (body.get('grant_type') === 'refresh_token') refreshRequests++
  }
  return fetch(req)
}

/** Signs the user in through the hosted form, as a browser, and completes the callback. */
async function signIn(client: TesseraClient, url: string, username: string, password: string) {
  const browser = new Browser(url)
  try {
    const authorize = await client.signIn()
    const login = redirectOf(await browser.get(authorize.href), 'authorization request')
    const page = await browser.get(login)
    if (page.status !== 200) throw new Error(`sign-in page: HTTP ${page.status}`)
    const back = redirectOf(
      await browser.post(login, { ...formFields(page.body), username, password }),
      'sign-in',
    )
    await client.handleRedirectCallback(back)
  } finally {
    browser.close()
  }
}

log('@tessera/client benchmark')
log(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, Node ${process.version}`,
)
log('The machine may be shared: read the figures as orders of magnitude, not exact values.')
log()

const target = await startTessera()
let failed = false
try {
  const [user] = await target.process.call<{ username: string; password: string }[]>('users', {
    count: 1,
  })
  const client = createTesseraClient({
    issuer: target.url,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT_URI,
    scope: 'openid offline_access',
    apis: [{ baseUrl: API_AUDIENCE, audience: API_AUDIENCE, scope: API_SCOPE }],
    storage: memoryStorage(),
    fetch: countingFetch,
    clock,
    autoRefresh: false,
  })
  await signIn(client, target.url, user!.username, user!.password)
  const sessionId = client.getSnapshot().sessionId
  if (!sessionId) throw new Error('signed in without a session id')
  await client.getToken({ audience: API_AUDIENCE })

  // 1. Cached calls.
  let calls = 0
  const start = performance.now()
  while (performance.now() - start < SECONDS * 1000) {
    for (let i = 0; i < 1000; i++) await client.getToken({ audience: API_AUDIENCE })
    calls += 1000
  }
  const elapsed = (performance.now() - start) / 1000
  log(
    `cached getToken: ${Math.round(calls / elapsed).toLocaleString('en')} calls/s ` +
      `(${calls.toLocaleString('en')} sequential awaited calls in ${elapsed.toFixed(2)} s)`,
  )

  // 2. Storms on an expired token.
  if (target.dbFile === undefined) throw new Error('the Tessera target has no database file')
  const db = new BetterSqlite3(target.dbFile, { readonly: true, fileMustExist: true })
  const generation = () =>
    (
      db.prepare('select generation from sessions where id = ?').get(sessionId) as {
        generation: number
      }
    ).generation
  const times: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    clock.offset += (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000
    const before = { requests: refreshRequests, generation: generation() }
    const t0 = performance.now()
    const tokens = await Promise.all(
      Array.from({ length: STORM }, () => client.getToken({ audience: API_AUDIENCE })),
    )
    const ms = performance.now() - t0
    times.push(ms)
    const requests = refreshRequests - before.requests
    const rotations = generation() - before.generation
    const distinct = new Set(tokens).size
    if (requests !== 1 || rotations !== 1 || distinct !== 1) failed = true
    log(
      `storm ${round}/${ROUNDS}: ${STORM.toLocaleString('en')} concurrent getToken on an expired token -> ` +
        `${requests} refresh request(s) to the server, ${rotations} rotation(s) in its database, ` +
        `${distinct} distinct token(s), all answered in ${ms.toFixed(1)} ms`,
    )
  }
  times.sort((a, b) => a - b)
  log(
    `storm time (one refresh over HTTP to the server, fsync included, plus ${STORM.toLocaleString('en')} ` +
      `awaiting callers): median ${times[Math.floor(times.length / 2)]!.toFixed(1)} ms, ` +
      `min ${times[0]!.toFixed(1)} ms, max ${times.at(-1)!.toFixed(1)} ms`,
  )
  db.close()
  client.dispose()
} finally {
  await target.stop()
}
if (failed) {
  log('FAILED: a storm did not make exactly one refresh')
  process.exitCode = 1
}
