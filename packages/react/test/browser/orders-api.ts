import { createServer, type Server } from 'node:http'
import { createVerifier } from '../../../verify/src/index.js'

/**
 * An API for the browser app, on its own origin: CORS with a preflight (the request carries
 * `Authorization`), tokens verified by @tessera/verify against the issuer's JWKS.
 */
export class OrdersApi {
  readonly authorizations: (string | undefined)[] = []
  #server: Server | undefined
  url = ''

  async start(issuer: () => string): Promise<string> {
    let verifier: ReturnType<typeof createVerifier> | undefined
    this.#server = createServer((req, res) => {
      res.setHeader('access-control-allow-origin', '*')
      res.setHeader('access-control-expose-headers', 'www-authenticate')
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-headers': 'authorization',
          'access-control-allow-methods': 'GET',
        })
        res.end()
        return
      }
      const authorization = req.headers.authorization
      this.authorizations.push(authorization)
      const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
      verifier ??= createVerifier({ issuer: issuer(), audience: this.url })
      const deny = () => {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' })
        res.end()
      }
      if (!token) return deny()
      verifier.verify(token).then(({ claims }) => {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ sub: claims.sub, aud: claims.aud }))
      }, deny)
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
