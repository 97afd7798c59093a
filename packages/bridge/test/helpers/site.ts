import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const bundles = new Map<string, Promise<string>>()

/** The page script `entry` (a file next to this one's `../browser/`), bundled for Chromium. */
export function bundle(entry: string): Promise<string> {
  let b = bundles.get(entry)
  if (!b) {
    b = build({
      entryPoints: [fileURLToPath(new URL(`../browser/${entry}`, import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['@tessera/source'],
      // React pages (`.tsx`): the automatic runtime, React's production build.
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"' },
      write: false,
      logLevel: 'silent',
    }).then((out) => out.outputFiles[0]!.text)
    bundles.set(entry, b)
  }
  return b
}

/**
 * One origin of the test: serves a page (any path) whose `window.__CONFIG` is `config` and whose
 * script is the bundled `entry`, on 127.0.0.1 with an ephemeral port. `host` names the origin
 * (`127.0.0.1` or `localhost`), so pages of one test sit on distinct origins and sites.
 */
export class Site {
  url = ''
  config: Record<string, unknown> = {}
  readonly requests: string[] = []
  #server: Server | undefined

  constructor(
    readonly entry: string,
    readonly host: '127.0.0.1' | 'localhost' = 'localhost',
  ) {}

  async start(): Promise<string> {
    const script = await bundle(this.entry)
    this.#server = createServer((req, res) => {
      this.requests.push(req.url ?? '')
      if (req.url === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
        return res.end(script)
      }
      if (req.url === '/favicon.ico') {
        res.writeHead(404)
        return res.end()
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>${this.entry}</title>` +
          `<script>window.__CONFIG = ${JSON.stringify(this.config)}</script>` +
          `<script type="module" src="/bundle.js"></script></head><body></body></html>`,
      )
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    const addr = this.#server.address()
    this.url = `http://${this.host}:${typeof addr === 'object' && addr ? addr.port : 0}`
    return this.url
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (!this.#server) return r()
      this.#server.closeAllConnections()
      this.#server.close(() => r())
    })
  }
}
