import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Browser, codeOf, redirectOf } from '../lib/browser.js'
import { TargetProcess } from '../lib/child.js'
import { API_AUDIENCE, CLIENT_ID, REDIRECT_URI, SCOPE } from '../lib/constants.js'
import { pkcePair } from '../lib/pkce.js'
import { mapLimit } from '../lib/pool.js'
import type { BenchTarget } from './target.js'

/** Browsers signing in at once while the sessions are set up. */
export const SIGN_IN_CONCURRENCY = 8

export const OIDC_SEED_METHOD =
  'its real authorization code flow over HTTP: GET /auth (PKCE S256, prompt=consent, resource), ' +
  'the dev-interactions sign-in form, the consent form, then the code redeemed at /token'

/** oidc-provider in a child process, with its default in-memory adapter or a SQLite adapter. */
export async function startOidcProvider(adapter: 'memory' | 'sqlite'): Promise<BenchTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-oidc-'))
  const dbFile = adapter === 'sqlite' ? join(dir, 'oidc.db') : undefined
  const proc = await TargetProcess.start({
    script: new URL('./oidc-provider-server.ts', import.meta.url),
    env: { BENCH_OIDC_ADAPTER: adapter, ...(dbFile ? { BENCH_DB_FILE: dbFile } : {}) },
  })
  const url = proc.info.url as string
  return {
    key: `oidc-provider-${adapter}`,
    label:
      adapter === 'memory'
        ? 'oidc-provider 9.13.3 (default in-memory adapter)'
        : 'oidc-provider 9.13.3 (SQLite adapter, synchronous FULL)',
    url,
    dbFile,
    tokenPath: '/token',
    seedMethod: OIDC_SEED_METHOD,
    process: proc,
    refreshForm: (rt) => ({
      grant_type: 'refresh_token',
      refresh_token: rt,
      client_id: CLIENT_ID,
      resource: API_AUDIENCE,
    }),
    async seed(n) {
      const logins = Array.from({ length: n }, (_, i) => `bench-user-${i}`)
      return mapLimit(logins, SIGN_IN_CONCURRENCY, (login) => signIn(url, login))
    },
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** One user's sign-in through oidc-provider's dev interactions, as a browser would drive it. */
async function signIn(baseUrl: string, login: string): Promise<string> {
  const browser = new Browser(baseUrl)
  try {
    const { verifier, challenge } = pkcePair()
    const auth = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      resource: API_AUDIENCE,
      // oidc-provider grants offline_access only with prompt=consent.
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'bench-state',
      nonce: 'bench-nonce',
    })
    let loc = redirectOf(await browser.get(`/auth?${auth.toString()}`), 'authorization request')
    // The login prompt, then the consent prompt: show the form, submit it, resume.
    for (const prompt of ['login', 'consent']) {
      const page = await browser.get(loc)
      if (page.status !== 200 || !page.body.includes(`name="prompt" value="${prompt}"`)) {
        throw new Error(`${prompt} page: HTTP ${page.status}: ${page.body.slice(0, 300)}`)
      }
      const form: Record<string, string> =
        prompt === 'login' ? { prompt, login, password: 'bench-password' } : { prompt }
      const resume = redirectOf(await browser.post(loc, form), `${prompt} submit`)
      loc = redirectOf(await browser.get(resume), `${prompt} resume`)
    }
    const res = await browser.post('/token', {
      grant_type: 'authorization_code',
      code: codeOf(loc, REDIRECT_URI),
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

/** The refresh token of a successful code redemption. */
export function refreshTokenOf(status: number, text: string): string {
  const body = JSON.parse(text) as Record<string, unknown>
  if (status !== 200 || typeof body.refresh_token !== 'string') {
    throw new Error(
      `code redemption: HTTP ${status} ${String(body.error)} ${String(body.error_description)}`,
    )
  }
  return body.refresh_token
}
