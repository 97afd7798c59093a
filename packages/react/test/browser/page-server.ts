import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/**
 * Serves the React test app on loopback: `app.tsx` bundled with esbuild (production React, as a
 * user ships it) at /app.js, and the same HTML page for every other path (a single-page app).
 */
export class AppServer {
  #server: Server | undefined
  #bundle = ''
  config: Record<string, unknown> = {}
  url = ''

  async start(): Promise<string> {
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./app.tsx', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      conditions: ['@tessera/source'],
      define: { 'process.env.NODE_ENV': '"production"' },
      minify: true,
      write: false,
      logLevel: 'silent',
    })
    this.#bundle = out.outputFiles[0]!.text
    this.#server = createServer((req, res) => {
      if (req.url === '/app.js') {
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
        `<!doctype html><html><head><meta charset="utf-8"><title>react test app</title>` +
          `<script>window.__CONFIG = ${JSON.stringify(this.config)}</script>` +
          `<script type="module" src="/app.js"></script></head><body><div id="root"></div></body></html>`,
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
