import { createServer, type Server } from 'node:net'
import type { TesseraServer } from '../server.js'
import { CliError, EXIT, type CliIo } from './cli-io.js'

/** Seconds a shutdown may take to drain in-flight requests before the process exits anyway. */
export const DRAIN_TIMEOUT_SECONDS = 30

/**
 * Listens, then runs until SIGTERM or SIGINT: the first stops accepting connections, lets in-flight
 * requests finish (Fastify close), closes the store and resolves 0; a second signal exits at once.
 */
export async function serve(
  server: TesseraServer,
  io: CliIo,
  o: { port: number; host: string; announce: (url: string) => string[] },
): Promise<number> {
  const log = server.ctx.log
  // Handlers go in before anything is announced: whoever reads `url:` may signal at once.
  let stopping: Promise<number> | undefined
  const stop = (signal: NodeJS.Signals): Promise<number> => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without draining')
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    log.info({ signal }, 'shutting down: draining in-flight requests')
    const deadline = setTimeout(() => {
      log.error({ timeoutSeconds: DRAIN_TIMEOUT_SECONDS }, 'drain timed out: exiting')
      process.exit(EXIT.failure)
    }, DRAIN_TIMEOUT_SECONDS * 1000)
    deadline.unref()
    stopping = server.close().then(
      () => {
        clearTimeout(deadline)
        log.info('stopped')
        return EXIT.ok
      },
      (err: unknown) => {
        clearTimeout(deadline)
        log.error({ err }, 'shutdown failed')
        return EXIT.failure
      },
    )
    return stopping
  }
  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      void stop(signal).then(resolve)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })

  let url: string
  // `admin: URL`, `metrics: URL` (or `admin+metrics: URL`) for the internal listeners.
  const internal: string[] = []
  try {
    await server.listen(o.port, o.host)
    url = addressOf(server.app.server)
    for (const l of server.internal)
      internal.push(`${l.serves.join('+')}: ${addressOf(l.app.server)}`)
  } catch (err) {
    // A signal during start-up has closed the server already; that is a normal stop.
    if (stopping) return stopping
    await server.close().catch(() => undefined)
    const code = (err as NodeJS.ErrnoException).code
    // Which listener failed: the error carries its address and port.
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
    const where = e.port !== undefined ? `${e.address ?? o.host}:${e.port}` : `${o.host}:${o.port}`
    if (code === 'EADDRINUSE') {
      throw new CliError(`cannot listen on ${where}: the address is in use`, EXIT.failure)
    }
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw new CliError(`cannot listen on ${where}: ${code}`, EXIT.failure)
    }
    throw err
  }
  if (!stopping) io.stdout.write([...o.announce(url), ...internal].join('\n') + '\n')
  return stopped
}

function addressOf(srv: Server): string {
  const addr = srv.address()
  if (!addr || typeof addr === 'string') throw new Error('the server has no TCP address')
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `http://${host}:${addr.port}`
}

/** A port that was free on `host` a moment ago (for `--port 0` where the issuer needs the port). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}
