import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TargetProcess } from '../lib/child.js'
import { API_AUDIENCE, CLIENT_ID, REDIRECT_URI, SCOPE } from '../lib/constants.js'
import { CookieJar } from '../lib/cookie-jar.js'
import { HttpClient, type HttpResponse } from '../lib/http.js'
import { pkcePair } from '../lib/pkce.js'
import type { BenchTarget } from './target.js'

export const OIDC_SEED_METHOD =
  'its real authorization code flow over HTTP: GET /auth (PKCE S256, prompt=consent, resource), ' +
  'the dev-interactions login form, the consent form, then the code redeemed at /token'

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
      const tokens: string[] = []
      for (let i = 0; i < n; i++) tokens.push(await signIn(url, `bench-user-${i}`))
      return tokens
    },
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function expectRedirect(res: HttpResponse, step: string): string {
  const loc = res.headers.location
  if (res.status < 300 || res.status > 399 || typeof loc !== 'string') {
    throw new Error(
      `${step}: expected a redirect, got HTTP ${res.status}: ${res.body.slice(0, 300)}`,
    )
  }
  return loc
}

/** One user's sign-in through oidc-provider's dev interactions, as a browser would drive it. */
async function signIn(baseUrl: string, login: string): Promise<string> {
  const http = new HttpClient(baseUrl, { maxSockets: 1 })
  const jar = new CookieJar()
  const get = async (path: string) => {
    const res = await http.request(path, { headers: jar.header() })
    jar.store(res.headers)
    return res
  }
  const post = async (path: string, form: Record<string, string>) => {
    const res = await http.postForm(path, form, jar.header())
    jar.store(res.headers)
    return res
  }
  const pathOf = (loc: string) => {
    const u = new URL(loc, baseUrl)
    return u.pathname + u.search
  }
  try {
    const { verifier, challenge } = pkcePair()
    const auth = new URLSearchParams({
      client_id: CLIENT_ID,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      resource: API_AUDIENCE,
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'bench-state',
      nonce: 'bench-nonce',
    })
    let loc = expectRedirect(await get(`/auth?${auth.toString()}`), 'authorization request')
    // Login prompt: render the form, submit it, resume the authorization.
    for (const prompt of ['login', 'consent']) {
      const page = await get(pathOf(loc))
      if (page.status !== 200 || !page.body.includes(`name="prompt" value="${prompt}"`)) {
        throw new Error(`${prompt} page: HTTP ${page.status}: ${page.body.slice(0, 300)}`)
      }
      const form: Record<string, string> =
        prompt === 'login' ? { prompt, login, password: 'bench-password' } : { prompt }
      const resume = expectRedirect(await post(pathOf(loc), form), `${prompt} submit`)
      loc = expectRedirect(await get(pathOf(resume)), `${prompt} resume`)
    }
    const callback = new URL(loc)
    if (callback.origin + callback.pathname !== REDIRECT_URI) {
      throw new Error(
        `expected the redirect to the client, got ${callback.origin}${callback.pathname}`,
      )
    }
    const code = callback.searchParams.get('code')
    if (!code)
      throw new Error(
        `no code in the authorization response: ${callback.search.replace(/code=[^&]+/, 'code=...')}`,
      )
    const token = await http.postForm('/token', {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: CLIENT_ID,
      resource: API_AUDIENCE,
    })
    const body = JSON.parse(token.body) as Record<string, unknown>
    if (token.status !== 200 || typeof body.refresh_token !== 'string') {
      throw new Error(
        `code redemption: HTTP ${token.status} ${String(body.error)} ${String(body.error_description)}`,
      )
    }
    return body.refresh_token
  } finally {
    http.close()
  }
}
