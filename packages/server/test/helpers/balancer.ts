import {
  Agent,
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'

/**
 * An HTTP load balancer without affinity, for tests of several server instances: every request
 * (not every connection, so keep-alive gives no stickiness either) goes to the next target in
 * turn. `gate(n)` holds the next `n` requests, each read in full, and forwards them together in
 * one loop once the last has arrived: a barrier that works for any client library, since it sits
 * on the wire. Every forwarded request and the first byte of every answer are recorded, so a test
 * can prove that the requests really were at the servers together.
 */
export class RoundRobinBalancer {
  readonly #targets: URL[]
  readonly #agent = new Agent({ keepAlive: true })
  #server: Server | undefined
  #next = 0
  #gate: { n: number; held: (() => void)[]; released: () => void } | undefined
  /** Requests forwarded to each target, by index. */
  readonly served: number[]
  /** Monotonic timestamps (ns) of forwarding and of the first answer byte, per request. */
  readonly log: { forwardedAt: bigint; answeredAt?: bigint; target: number }[] = []
  url = ''

  constructor(targets: string[]) {
    this.#targets = targets.map((t) => new URL(t))
    this.served = targets.map(() => 0)
  }

  /** Targets may be set after the balancer listens (a server whose issuer is this URL). */
  setTargets(targets: string[]): void {
    this.#targets.splice(0, this.#targets.length, ...targets.map((t) => new URL(t)))
    this.served.splice(0, this.served.length, ...targets.map(() => 0))
  }

  async listen(): Promise<string> {
    const server = createServer((req, res) => this.#accept(req, res))
    this.#server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    })
    const addr = server.address()
    this.url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
    return this.url
  }

  /** Holds the next `n` requests until all `n` have arrived; resolves when they are forwarded. */
  gate(n: number): Promise<void> {
    if (this.#gate) throw new Error('a gate is already set')
    return new Promise((released) => {
      this.#gate = { n, held: [], released }
    })
  }

  #accept(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const forward = (): void => this.#forward(req, Buffer.concat(chunks), res)
      const gate = this.#gate
      if (!gate) return forward()
      gate.held.push(forward)
      if (gate.held.length < gate.n) return
      this.#gate = undefined
      for (const f of gate.held) f()
      gate.released()
    })
  }

  #forward(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
    const index = this.#next++ % this.#targets.length
    const target = this.#targets[index]!
    this.served[index]!++
    const entry: (typeof this.log)[number] = { forwardedAt: process.hrtime.bigint(), target: index }
    this.log.push(entry)
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) }
    delete headers['transfer-encoding']
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.#agent,
      },
      (answer) => {
        entry.answeredAt = process.hrtime.bigint()
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
    up.end(body)
  }

  async close(): Promise<void> {
    this.#agent.destroy()
    const server = this.#server
    if (!server) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
