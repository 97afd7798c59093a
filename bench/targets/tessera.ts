import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { staleServerBuild } from '../lib/build-check.js'
import { TargetProcess } from '../lib/child.js'
import { API_AUDIENCE, CLIENT_ID, REDIRECT_URI } from '../lib/constants.js'
import { HttpClient } from '../lib/http.js'
import type { BenchTarget } from './target.js'

export const TESSERA_SEED_METHOD =
  'users and PKCE authorization codes written through the Store API (as /authorize does after ' +
  'sign-in), each code redeemed at /oauth/token over HTTP'

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
      const codes = await proc.call<{ code: string; verifier: string }[]>('seed', { count: n })
      const http = new HttpClient(url, { maxSockets: 1 })
      try {
        const tokens: string[] = []
        for (const c of codes) {
          const res = await http.postForm('/oauth/token', {
            grant_type: 'authorization_code',
            code: c.code,
            code_verifier: c.verifier,
            redirect_uri: REDIRECT_URI,
            client_id: CLIENT_ID,
            resource: API_AUDIENCE,
          })
          const body = JSON.parse(res.body) as Record<string, unknown>
          if (res.status !== 200 || typeof body.refresh_token !== 'string') {
            throw new Error(
              `code redemption: HTTP ${res.status} ${String(body.error)} ${String(body.error_description)}`,
            )
          }
          tokens.push(body.refresh_token)
        }
        return tokens
      } finally {
        http.close()
      }
    },
    async stop() {
      await proc.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
