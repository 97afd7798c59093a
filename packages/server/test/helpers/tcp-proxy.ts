import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy between a server under test and its database, to cut the connection for real:
 * `cut()` resets every open connection and refuses new ones, as a dead network path or a failing
 * database host does; `restore()` lets connections through again.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number }
  readonly #sockets = new Set<Socket>()
  /** Local ports of the proxy's own connections to the target (as the database sees them). */
  readonly upstreamPorts = new Set<number>()
  #server: Server | undefined
  #open = true
  port = 0

  constructor(target: { host: string; port: number }) {
    this.#target = target
  }

  async listen(): Promise<number> {
    const server = createServer((client) => this.#accept(client))
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    this.port = typeof addr === 'object' && addr ? addr.port : 0
    return this.port
  }

  #accept(client: Socket): void {
    if (!this.#open) {
      client.resetAndDestroy()
      return
    }
    const upstream = connect(this.#target.port, this.#target.host)
    this.#sockets.add(client)
    this.#sockets.add(upstream)
    upstream.once('connect', () => {
      if (upstream.localPort !== undefined) this.upstreamPorts.add(upstream.localPort)
    })
    const close = (): void => {
      for (const s of [client, upstream]) {
        this.#sockets.delete(s)
        if (!s.destroyed) s.destroy()
      }
    }
    client.on('error', close).on('close', close)
    upstream.on('error', close).on('close', close)
    client.pipe(upstream)
    upstream.pipe(client)
  }

  /** Resets every connection and refuses new ones until `restore()`. */
  cut(): void {
    this.#open = false
    for (const s of this.#sockets) s.resetAndDestroy()
    this.#sockets.clear()
  }

  restore(): void {
    this.#open = true
  }

  /** Connections open through the proxy now (each counted once, client side). */
  get connections(): number {
    return this.#sockets.size / 2
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    )
  }
}
