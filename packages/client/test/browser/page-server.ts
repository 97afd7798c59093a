import { createServer, type Server } from 'node:http'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

/** Serves the test page (any path) and the bundled harness at /bundle.js on loopback. */
export class PageServer {
  #server: Server | undefined
  #bundle = ''
  config: Record<string, unknown> = {}
  url = ''

  async start(): Promise<string> {
    const out = await build({
      entryPoints: [fileURLToPath(new URL('./harness.ts', import.meta.url))],
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
        `<!doctype html><html><head><meta charset="utf-8"><title>client test</title>` +
          `<script>window.__CONFIG = ${JSON.stringify(this.config)}</script>` +
          `<script type="module" src="/bundle.js"></script></head><body>test page</body></html>`,
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
