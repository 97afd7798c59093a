import { createServer, type Server } from 'node:http'
import { createVerifier, withAuth } from '@tessera/verify'

/**
 * A small API on loopback that answers `GET /hello` only for access tokens of its own audience,
 * verified by `@tessera/verify` against the issuer's JWKS; CORS as a cross-origin API for browsers
 * must do it (`WWW-Authenticate` readable). `rejectNext` refuses that many valid tokens with
 * `invalid_token` (as after a revocation).
 */
export class VerifiedApi {
  url = ''
  readonly name: string
  readonly authorizations: string[] = []
  rejectNext = 0
  #server: Server | undefined

  constructor(name: string) {
    this.name = name
  }

  async start(issuer: () => string, now: () => number): Promise<string> {
    let handler: ((r: Request) => Promise<Response>) | undefined
    this.#server = createServer((req, res) => {
      void (async () => {
        const cors = {
          'access-control-allow-origin': '*',
          'access-control-allow-headers': 'authorization',
          'access-control-expose-headers': 'www-authenticate',
        }
        if (req.method === 'OPTIONS') {
          res.writeHead(204, cors)
          return res.end()
        }
        const authorization = req.headers.authorization
        this.authorizations.push(authorization ?? '')
        if (this.rejectNext > 0 && authorization) {
          this.rejectNext--
          res.writeHead(401, { ...cors, 'www-authenticate': 'Bearer error="invalid_token"' })
          return res.end()
        }
        handler ??= withAuth(
          createVerifier({ issuer: issuer(), audience: this.url, clock: { now } }),
          (_req, auth) =>
            Response.json({ api: this.name, sub: auth.claims.sub, aud: auth.claims.aud }),
        )
        const r = await handler(
          new Request(this.url + (req.url ?? '/'), {
            method: req.method ?? 'GET',
            headers: authorization ? { authorization } : {},
          }),
        )
        res.writeHead(r.status, { ...cors, ...Object.fromEntries(r.headers) })
        res.end(await r.text())
      })()
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
