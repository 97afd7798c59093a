import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions } from 'esbuild'

export interface PageServerOptions {
  /** The page's script, bundled with esbuild from the workspace sources. Default: the harness. */
  entry?: URL
  /** More esbuild options (JSX, defines, minify) for that script. */
  build?: BuildOptions
  /** The page's title and body. */
  title?: string
  body?: string
}

/**
 * Serves one HTML page for every path (so a single-page app can route) and its bundled script at
 * /bundle.js on loopback; `config` is handed to the page as `window.__CONFIG`.
 */
export class PageServer {
  #server: Server | undefined
  #bundle = ''
  readonly #o: PageServerOptions
  config: Record<string, unknown> = {}
  url = ''

  constructor(o: PageServerOptions = {}) {
    this.#o = o
  }

  async start(): Promise<string> {
    const out = await build({
      entryPoints: [fileURLToPath(this.#o.entry ?? new URL('./harness.ts', import.meta.url))],
      ...this.#o.build,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: ['@tessera/source'],
      write: false,
      logLevel: 'silent',
    })
    this.#bundle = out.outputFiles[0]!.text
    this.#server = createServer((req, res) => {
      if (req.url === '/bundle.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' })
        res.end(this.#bundle)
        return
      }
      if (req.url === '/favicon.ico') {
        res.writeHead(404)
        res.end()
        return
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
      })
      res.end(
        `<!doctype html><html><head><meta charset="utf-8"><title>${this.#o.title ?? 'client test'}</title>` +
          `<script>window.__CONFIG = ${JSON.stringify(this.config)}</script>` +
          `<script type="module" src="/bundle.js"></script></head>` +
          `<body>${this.#o.body ?? 'test page'}</body></html>`,
      )
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    const addr = this.#server.address()
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
    return this.url
  }

  close(): Promise<void> {
    return new Promise((r) => (this.#server ? this.#server.close(() => r()) : r()))
  }
}
