import { createServer, type Server } from 'node:http'
import { createRemoteJWKSet, jwtVerify } from 'jose'

/**
 * A resource server on loopback that accepts access tokens of one audience, verified against the
 * issuer's JWKS (RFC 9068), and answers 401 with `WWW-Authenticate: Bearer error="invalid_token"`
 * otherwise. `reject` makes it refuse tokens it would accept (as after a revocation).
 */
export class ApiServer {
  readonly requests: { authorization: string | undefined; method: string; body: string }[] = []
  readonly rejected = new Set<string>()
  rejectAll = false
  /** The `error` of the 401 that `rejectAll` answers. */
  rejectAllWith = 'invalid_token'
  #server: Server | undefined
  url = ''

  async start(issuer: () => string, now: () => number): Promise<string> {
    let jwks: ReturnType<typeof createRemoteJWKSet> | undefined
    this.#server = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        void (async () => {
          const authorization = req.headers.authorization
          this.requests.push({ authorization, method: req.method ?? 'GET', body })
          const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
          // CORS as a cross-origin API for browsers must do it, WWW-Authenticate readable.
          res.setHeader('access-control-allow-origin', '*')
          res.setHeader('access-control-expose-headers', 'www-authenticate')
          const deny = (error: string) => {
            res.writeHead(401, { 'www-authenticate': `Bearer realm="api", error="${error}"` })
            res.end()
          }
          if (!token) return deny('invalid_request')
          if (this.rejectAll) return deny(this.rejectAllWith)
          if (this.rejected.has(token)) return deny('invalid_token')
          jwks ??= createRemoteJWKSet(new URL(issuer() + '/.well-known/jwks.json'))
          try {
            const { payload } = await jwtVerify(token, jwks, {
              issuer: issuer(),
              audience: this.url,
              typ: 'at+jwt',
              currentDate: new Date(now()),
            })
            res.writeHead(200, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ sub: payload.sub, aud: payload.aud, echo: body }))
          } catch {
            deny('invalid_token')
          }
        })()
      })
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
