import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Browser, codeOf, formFields, redirectOf } from '../lib/browser.js'
import { staleServerBuild } from '../lib/build-check.js'
import { TargetProcess } from '../lib/child.js'
import { API_AUDIENCE, CLIENT_ID, REDIRECT_URI, SCOPE } from '../lib/constants.js'
import { pkcePair } from '../lib/pkce.js'
import pg from 'pg'
import { mapLimit } from '../lib/pool.js'
import { refreshTokenOf, SIGN_IN_CONCURRENCY } from './oidc-provider.js'
import type { BenchTarget } from './target.js'

export const TESSERA_SEED_METHOD =
  'its real authorization code flow over HTTP: GET /authorize (PKCE S256, resource), the hosted ' +
  'sign-in form (CSRF token, username and password), then the code redeemed at /oauth/token; the ' +
  'users are created through the Store API first (createUser)'

function checkBuild(): void {
  const stale = staleServerBuild()
  if (stale.length > 0) {
    throw new Error(
      `packages/server/dist is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ' ...' : ''}: ` +
        'run `npm run build` (npm run bench does)',
    )
  }
}

const refreshForm = (rt: string): Record<string, string> => ({
  grant_type: 'refresh_token',
  refresh_token: rt,
  client_id: CLIENT_ID,
  resource: API_AUDIENCE,
})

/** The PostgreSQL the bench uses: `BENCH_DATABASE_URL`, or the machine's (database `test`). */
export const BENCH_PG_URL =
  process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
/** Connections per Tessera instance on PostgreSQL. */
export const BENCH_PG_POOL = Number(process.env.BENCH_PG_POOL ?? 10)

/**
 * Tessera on PostgreSQL, `instances` processes on one fresh schema (same secret and issuer, as
 * behind a load balancer). Sign-ins go through the first instance, whose URL is the issuer (the
 * hosted sign-in page redirects there); the refreshes go to the instances in turn.
 */
export async function startTesseraPostgres(instances: 1 | 2): Promise<BenchTarget> {
  checkBuild()
  const schema = `tessera_bench_${randomBytes(6).toString('hex')}`
  await adminQuery(`create schema ${schema}`)
  const env = {
    BENCH_PG_URL,
    BENCH_PG_SCHEMA: schema,
    BENCH_PG_POOL: String(BENCH_PG_POOL),
    BENCH_SECRET: randomBytes(32).toString('base64url'),
  }
  const procs: TargetProcess[] = []
  const drop = async () => {
    for (const p of procs) await p.stop()
    await adminQuery(`drop schema if exists ${schema} cascade`)
  }
  try {
    // One after the other: the first migrates and creates the key, the second finds them. The
    // first one's URL is the issuer of both (where a load balancer would be), so both accept the
    // tokens either issues and the browser's sign-in stays on one origin.
    for (let i = 0; i < instances; i++) {
      const issuer: Record<string, string> = procs[0]
        ? { BENCH_ISSUER: procs[0].info.url as string }
        : {}
      procs.push(
        await TargetProcess.start({
          script: new URL('./tessera-server.ts', import.meta.url),
          env: { ...env, ...issuer },
        }),
      )
    }
  } catch (err) {
    await drop()
    throw err
  }
  const urls = procs.map((p) => p.info.url as string)
  const first = procs[0] as TargetProcess
  return {
    key: instances === 1 ? 'tessera-postgres' : 'tessera-postgres-2',
    label:
      instances === 1
        ? `Tessera (PostgreSQL, 1 instance, pool ${BENCH_PG_POOL})`
        : `Tessera (PostgreSQL, 2 instances, pool ${BENCH_PG_POOL} each, requests alternated)`,
    url: urls[0] as string,
    urls,
    dbFile: undefined,
    tokenPath: '/oauth/token',
    seedMethod: TESSERA_SEED_METHOD + (instances > 1 ? ', through the first instance' : ''),
    process: first,
    refreshForm,
    async seed(n) {
      const users = await first.call<{ username: string; password: string }[]>('users', {
        count: n,
      })
      return mapLimit(users, SIGN_IN_CONCURRENCY, (u) =>
        signIn(urls[0] as string, u.username, u.password),
      )
    },
    stop: drop,
  }
}

async function adminQuery(text: string): Promise<void> {
  const c = new pg.Client({ connectionString: BENCH_PG_URL, connectionTimeoutMillis: 5000 })
  try {
    await c.connect()
    await c.query(text)
  } finally {
    await c.end().catch(() => undefined)
  }
}

/** Tessera on SQLite with synchronous FULL, in a child process. */
export async function startTessera(): Promise<BenchTarget> {
  checkBuild()
  const synchronous = process.env.BENCH_TESSERA_SYNCHRONOUS === 'NORMAL' ? 'NORMAL' : 'FULL'
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'))
  const dbFile = join(dir, 'tessera.db')
  const proc = await TargetProcess.start({
    script: new URL('./tessera-server.ts', import.meta.url),
    env: { BENCH_DB_FILE: dbFile, BENCH_TESSERA_SYNCHRONOUS: synchronous },
  })
  const url = proc.info.url as string
  return {
    key: 'tessera',
    label:
      synchronous === 'FULL'
        ? 'Tessera (SQLite, synchronous FULL)'
        : 'Tessera (SQLite, synchronous NORMAL: diagnostic, not durable)',
    url,
    dbFile,
    tokenPath: '/oauth/token',
    seedMethod: TESSERA_SEED_METHOD,
    process: proc,
    refreshForm,
    async seed(n) {
      const users = await proc.call<{ username: string; password: string }[]>('users', { count: n })
      return mapLimit(users, SIGN_IN_CONCURRENCY, (u) => signIn(url, u.username, u.password))
    },
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** One user's sign-in through Tessera's /authorize and hosted sign-in page, as a browser. */
async function signIn(baseUrl: string, username: string, password: string): Promise<string> {
  const browser = new Browser(baseUrl)
  try {
    const { verifier, challenge } = pkcePair()
    const auth = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      resource: API_AUDIENCE,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'bench-state',
      nonce: 'bench-nonce',
    })
    const login = redirectOf(
      await browser.get(`/authorize?${auth.toString()}`),
      'authorization request',
    )
    const page = await browser.get(login)
    if (page.status !== 200)
      throw new Error(`sign-in page: HTTP ${page.status}: ${page.body.slice(0, 300)}`)
    const form = { ...formFields(page.body), username, password }
    const back = redirectOf(await browser.post(login, form), 'sign-in')
    const res = await browser.post('/oauth/token', {
      grant_type: 'authorization_code',
      code: codeOf(back, REDIRECT_URI),
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      resource: API_AUDIENCE,
    })
    return refreshTokenOf(res.status, res.body)
  } finally {
    browser.close()
  }
}
