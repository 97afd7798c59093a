/**
 * The demo's server: one Node process, one port per origin. The shell's origin serves the shell
 * page; each micro frontend's origin serves its page and its small API (`/api/summary`), which
 * answers only requests with an access token for that API's audience, checked by
 * `@tessera/verify`. The browser code is bundled with esbuild at start.
 */
import { createServer, type Server, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { createVerifier, withAuth, type AccessTokenClaims } from '@tessera/verify'
import type { DemoConfig, FrameInfo } from './config.js'

export interface DemoOptions {
  /** Tessera's issuer, e.g. `http://localhost:4000`. */
  issuer: string
  /** The shell's client id at Tessera. */
  clientId: string
  /** Host name in the origins. Default `localhost`. */
  host?: string
  /** Ports of the shell and the frames; 0 picks a free one. Default 5170 to 5173. */
  ports?: { shell: number; orders: number; billing: number; analytics: number }
  /** The audiences of the three APIs. */
  audiences: Record<FrameInfo['name'], string>
}

export interface Demo {
  config: DemoConfig
  close(): Promise<void>
}

const TITLES: Record<FrameInfo['name'], string> = {
  orders: 'Orders',
  billing: 'Billing',
  analytics: 'Analytics',
}

/** What each API answers, from the verified token's claims. */
const ANSWERS: Record<FrameInfo['name'], (claims: AccessTokenClaims) => unknown> = {
  orders: (c) => ({ customer: c.sub, orders: [{ id: 'A-1001', total: '42.00 EUR' }] }),
  billing: (c) => ({ customer: c.sub, plan: c.plan ?? 'free', invoices: 3 }),
  analytics: (c) => ({ customer: c.sub, visitsThisWeek: 17 }),
}

export async function startDemo(o: DemoOptions): Promise<Demo> {
  const host = o.host ?? 'localhost'
  const ports = o.ports ?? { shell: 5170, orders: 5171, billing: 5172, analytics: 5173 }
  const [shellJs, frameJs] = await Promise.all([bundle('shell.ts'), bundle('frame.ts')])
  const servers: Server[] = []
  const listen = async (port: number, handler: Parameters<typeof createServer>[1]) => {
    const server = createServer(handler)
    servers.push(server)
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host === 'localhost' ? '127.0.0.1' : host, resolve)
    })
    const addr = server.address()
    return `http://${host}:${typeof addr === 'object' && addr ? addr.port : port}`
  }
  // The configuration names every origin, so the servers start before it is complete.
  const config: DemoConfig = { issuer: o.issuer, clientId: o.clientId, shell: '', frames: [] }
  const page = (title: string, script: string, body: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>` +
    `<style>${STYLE}</style><script>window.__DEMO = ${JSON.stringify(config)}</script>` +
    `<script type="module" src="/${script}"></script></head><body>${body}</body></html>`

  config.shell = await listen(ports.shell, (req, res) => {
    if (req.url === '/shell.js') return send(res, 200, 'text/javascript', shellJs)
    if (req.url === '/favicon.ico') return send(res, 404, 'text/plain', '')
    send(
      res,
      200,
      'text/html',
      page(
        'Tessera demo shell',
        'shell.js',
        '<header><h1>Tessera demo</h1><span id="status">Loading…</span>' +
          '<button id="sign-in" hidden>Sign in</button><button id="sign-out" hidden>Sign out</button>' +
          '</header><main id="frames"></main>',
      ),
    )
  })
  for (const name of ['orders', 'billing', 'analytics'] as const) {
    const audience = o.audiences[name]
    const verifier = createVerifier({ issuer: o.issuer, audience })
    const api = withAuth(verifier, (_req, auth) => Response.json(ANSWERS[name](auth.claims)))
    const origin = await listen(ports[name], (req, res) => {
      if (req.url === '/frame.js') return send(res, 200, 'text/javascript', frameJs)
      if (req.url === '/favicon.ico') return send(res, 404, 'text/plain', '')
      if (req.url?.startsWith('/api/')) {
        const request = new Request(origin + req.url, {
          headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
        })
        void api(request).then(async (r) => {
          res.writeHead(r.status, Object.fromEntries(r.headers))
          res.end(await r.text())
        })
        return
      }
      send(
        res,
        200,
        'text/html',
        page(TITLES[name], 'frame.js', '<h2></h2><pre id="answer"></pre>'),
      )
    })
    config.frames.push({ name, title: TITLES[name], origin, audience })
  }
  return {
    config,
    async close() {
      for (const s of servers) {
        s.closeAllConnections()
        await new Promise<void>((r) => s.close(() => r()))
      }
    },
  }
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' })
  res.end(body)
}

async function bundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [fileURLToPath(new URL(`./${entry}`, import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The workspace packages from their sources, so the demo needs no build of its own.
    conditions: ['@tessera/source'],
    write: false,
    logLevel: 'silent',
  })
  return out.outputFiles[0]!.text
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 0; }
header { display: flex; gap: 1rem; align-items: center; padding: .5rem 1rem; background: #223; color: #fff; }
header h1 { font-size: 1.1rem; margin: 0; }
main { display: grid; grid-template-columns: repeat(3, 1fr); gap: 1rem; padding: 1rem; }
iframe { width: 100%; height: 16rem; border: 1px solid #ccd; border-radius: 6px; }
h2 { font-size: 1rem; margin: .5rem; }
pre { margin: .5rem; white-space: pre-wrap; }
`
