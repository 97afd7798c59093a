/**
 * A real Tessera server for the Jest tests, in a child process (`node --import tsx`): Jest runs
 * the React Native preset through Babel as CommonJS, which cannot load the server's ESM sources
 * (import.meta, top-level await, better-sqlite3's native binding) in its module registry. The
 * server is the same one the client's integration tests start in-process, with the client's
 * loopback API next to it and the user alice; `native-app` (redirect `com.example.app:/callback`)
 * may ask for the API's audience.
 *
 * Prints one JSON line (`{ control, issuer, api }`) and then answers on `control`:
 * - POST /follow `{ url }`: follows an authorization URL through the hosted sign-in form as a
 *   browser would, answers `{ location }` (the redirect back to the app);
 * - POST /clock `{ now }`: sets the server's clock (ms since the epoch);
 * - GET /session?sid=...: the server's session row (state, generation, amr, auth time);
 * - GET /events?type=...: the newest security events of that type (at most 20);
 * - POST /close: stops everything.
 */
import { createServer } from 'node:http'
import { ApiServer } from '../../../client/test/helpers/api-server.js'
import { API_A, defaultClients, startTestServer } from '../../../server/test/helpers/test-server.js'

const ALICE = { username: 'alice', password: 'correct horse battery' }

/** A browser's cookies for one server (the hosted sign-in form's session and CSRF cookies). */
class Jar {
  readonly #c = new Map<string, string>()
  store(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq > 0) this.#c.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim())
    }
  }
  header(): string {
    return [...this.#c].map(([k, v]) => `${k}=${v}`).join('; ')
  }
}

async function browse(jar: Jar, url: string, form?: Record<string, string>): Promise<Response> {
  const res = await fetch(url, {
    method: form ? 'POST' : 'GET',
    headers: {
      cookie: jar.header(),
      ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
    },
    redirect: 'manual',
    ...(form ? { body: new URLSearchParams(form) } : {}),
  })
  jar.store(res)
  return res
}

function fields(html: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of html.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(m[0])?.[1]
    const value = (/\bvalue="([^"]*)"/.exec(m[0])?.[1] ?? '').replace(/&amp;/g, '&')
    if (name !== undefined && !(name in out)) out[name] = value
  }
  return out
}

/** The system browser: /authorize, the hosted sign-in form as alice, the redirect to the app. */
async function followSignIn(issuer: string, url: URL): Promise<URL> {
  const jar = new Jar()
  let res = await browse(jar, url.href)
  const loc = res.headers.get('location')
  if (loc && new URL(loc, issuer).pathname === '/login') {
    const page = await browse(jar, new URL(loc, issuer).href)
    const f = fields(await page.text())
    res = await browse(jar, issuer + '/login', { ...f, ...ALICE })
  }
  const location = res.headers.get('location')
  if (res.status !== 303 || !location) throw new Error(`sign-in ended with ${res.status}`)
  return new URL(location)
}

const api = new ApiServer()
const box: { t?: Awaited<ReturnType<typeof startTestServer>> } = {}
await api.start(
  () => box.t!.url,
  () => box.t!.clock.now(),
)
const native = defaultClients.find((c) => c.id === 'native-app')!
const t = await startTestServer({
  apis: [
    { audience: API_A, name: 'API A', scopes: ['read'], accessTokenTtlSeconds: 900 },
    { audience: api.url, name: 'Loopback API', scopes: ['orders'], accessTokenTtlSeconds: 600 },
  ],
  clients: [
    {
      ...native,
      audiences: [API_A, api.url],
      scopes: [...(native.scopes ?? []), 'orders', 'profile', 'email', 'account:sessions'],
    },
  ],
})
box.t = t
t.clock.set(Date.now())
await t.createUser(ALICE.username, ALICE.password)

const control = createServer((req, res) => {
  let body = ''
  req.on('data', (c: Buffer) => (body += c.toString()))
  req.on('end', () => {
    void (async () => {
      try {
        const u = new URL(req.url ?? '/', 'http://x')
        const json = (v: unknown) => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify(v))
        }
        if (u.pathname === '/follow') {
          const { url } = JSON.parse(body) as { url: string }
          return json({ location: (await followSignIn(t.url, new URL(url))).href })
        }
        if (u.pathname === '/clock') {
          t.clock.set((JSON.parse(body) as { now: number }).now)
          return json({ ok: true })
        }
        if (u.pathname === '/session') {
          return json(await t.store.getSession(u.searchParams.get('sid') ?? ''))
        }
        if (u.pathname === '/events') {
          const type = (u.searchParams.get('type') ?? '') as 'device_step_up_failure'
          return json(await t.store.listEvents({ type, limit: 20 }))
        }
        if (u.pathname === '/close') {
          json({ ok: true })
          await t.close()
          await api.close()
          control.close()
          return
        }
        res.writeHead(404)
        res.end()
      } catch (err) {
        res.writeHead(500)
        res.end(String(err))
      }
    })()
  })
})
control.listen(0, '127.0.0.1', () => {
  const a = control.address()
  const port = typeof a === 'object' && a ? a.port : 0
  process.stdout.write(
    JSON.stringify({ control: `http://127.0.0.1:${port}`, issuer: t.url, api: api.url }) + '\n',
  )
})
// The parent's end is ours: exit when the test run closes stdin or dies.
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
