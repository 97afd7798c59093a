import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Browser, codeOf, formFields, redirectOf } from '../lib/browser.js'
import { staleServerBuild } from '../lib/build-check.js'
import { TargetProcess } from '../lib/child.js'
import { API_AUDIENCE, CLIENT_ID, REDIRECT_URI, SCOPE } from '../lib/constants.js'
import { pkcePair } from '../lib/pkce.js'
import { mapLimit } from '../lib/pool.js'
import { refreshTokenOf, SIGN_IN_CONCURRENCY } from './oidc-provider.js'
import type { BenchTarget } from './target.js'

export const TESSERA_SEED_METHOD =
  'its real authorization code flow over HTTP: GET /authorize (PKCE S256, resource), the hosted ' +
  'sign-in form (CSRF token, username and password), then the code redeemed at /oauth/token; the ' +
  'users are created through the Store API first (createUser)'

/** Tessera on SQLite with synchronous FULL, in a child process. */
export async function startTessera(): Promise<BenchTarget> {
  const stale = staleServerBuild()
  if (stale.length > 0) {
    throw new Error(
      `packages/server/dist is older than ${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ' ...' : ''}: ` +
        'run `npm run build` (npm run bench does)',
    )
  }
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
    refreshForm: (rt) => ({
      grant_type: 'refresh_token',
      refresh_token: rt,
      client_id: CLIENT_ID,
      resource: API_AUDIENCE,
    }),
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
