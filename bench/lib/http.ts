import { Agent, request, type IncomingHttpHeaders } from 'node:http'

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: string
}

export interface HttpRequest {
  method?: string
  headers?: Record<string, string>
  body?: string
}

/**
 * A keep-alive HTTP/1.1 client for one origin, on node:http with an Agent that holds up to
 * `maxSockets` connections open (one per concurrent chain, so no request waits for a socket).
 */
export class HttpClient {
  readonly agent: Agent
  readonly #host: string
  readonly #port: number
  readonly #timeoutMs: number

  constructor(baseUrl: string, opts: { maxSockets?: number; timeoutMs?: number } = {}) {
    const u = new URL(baseUrl)
    if (u.protocol !== 'http:')
      throw new Error(`only http: origins are supported, got ${u.protocol}`)
    this.#host = u.hostname
    this.#port = Number(u.port || 80)
    this.#timeoutMs = opts.timeoutMs ?? 30_000
    const maxSockets = opts.maxSockets ?? 64
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })
  }

  request(path: string, req: HttpRequest = {}): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers }
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body))
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: this.#host,
          port: this.#port,
          path,
          method: req.method ?? (req.body === undefined ? 'GET' : 'POST'),
          headers,
          agent: this.agent,
          timeout: this.#timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          )
          res.on('error', reject)
        },
      )
      r.on('timeout', () =>
        r.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      )
      r.on('error', reject)
      r.end(req.body)
    })
  }

  /** POSTs an application/x-www-form-urlencoded body. */
  postForm(path: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

/** What the load generator needs of a client. */
export interface FormPoster {
  postForm(path: string, form: Record<string, string>): Promise<HttpResponse>
  close(): void
}

/**
 * Several origins behind one client: each request goes to the next origin in turn, as a load
 * balancer without session affinity sends them (so consecutive refreshes of one chain land on
 * different instances).
 */
export class RoundRobinClient implements FormPoster {
  readonly #clients: HttpClient[]
  #next = 0

  constructor(baseUrls: string[], opts: { maxSockets?: number; timeoutMs?: number } = {}) {
    if (baseUrls.length === 0) throw new Error('RoundRobinClient needs at least one origin')
    this.#clients = baseUrls.map((u) => new HttpClient(u, opts))
  }

  postForm(path: string, form: Record<string, string>): Promise<HttpResponse> {
    const c = this.#clients[this.#next++ % this.#clients.length] as HttpClient
    return c.postForm(path, form)
  }

  close(): void {
    for (const c of this.#clients) c.close()
  }
}
