import { createServer, type Server } from 'node:http'
import { decodeJwt } from 'jose'
import {
  authenticateRequest,
  challenge,
  createVerifier,
  type AuthenticationRequirement,
  type Clock,
} from '../../../verify/src/index.js'

/**
 * An API on loopback whose tokens are checked by the real `@tessera/verify` (`verifyRequest`:
 * Bearer, or DPoP with a proof for the very request), answering its challenges as they are. CORS
 * as a cross-origin API for browsers needs it: `Authorization` and `DPoP` allowed, and
 * `WWW-Authenticate` and `DPoP-Nonce` readable. A path listed in `requirements` also needs the
 * sign-in its requirement names (RFC 9470 step-up), judged by `clock` (the verifier's).
 */
export class VerifiedApi {
  readonly requests: { authorization: string | undefined; dpop: string | undefined }[] = []
  /**
   * A nonce the API requires in DPoP proofs (RFC 9449 9), checked before @tessera/verify (which
   * has no nonces): a proof without it gets 401 `use_dpop_nonce` with `DPoP-Nonce`. Default none.
   */
  nonce: string | undefined
  /** Access tokens refused as `invalid_token` (as after a revocation) whatever their proof. */
  readonly revoked = new Set<string>()
  /** What a path (without query) needs of the sign-in, else 401
   * `insufficient_user_authentication`. Default none. */
  readonly requirements = new Map<string, AuthenticationRequirement>()
  /** The verifier's clock; set before the first request. Default `Date.now`. */
  clock: Clock | undefined
  #server: Server | undefined
  url = ''

  async start(issuer: () => string): Promise<string> {
    let verifier: ReturnType<typeof createVerifier> | undefined
    this.#server = createServer((req, res) => {
      res.setHeader('access-control-allow-origin', '*')
      res.setHeader('access-control-expose-headers', 'www-authenticate, dpop-nonce')
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-headers': 'authorization, dpop',
          'access-control-allow-methods': 'GET, POST',
        })
        res.end()
        return
      }
      const authorization = req.headers.authorization
      const dpop = req.headers.dpop as string | undefined
      this.requests.push({ authorization, dpop })
      if (this.nonce !== undefined && dpop !== undefined && nonceOf(dpop) !== this.nonce) {
        res.writeHead(401, {
          'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="use the nonce"',
          'dpop-nonce': this.nonce,
        })
        res.end(JSON.stringify({ error: 'use_dpop_nonce' }))
        return
      }
      const token = /^(?:DPoP|Bearer) (.+)$/.exec(authorization ?? '')?.[1]
      if (token !== undefined && this.revoked.has(token)) {
        res.writeHead(401, {
          'www-authenticate': 'DPoP error="invalid_token", error_description="revoked"',
        })
        res.end(JSON.stringify({ error: 'invalid_token' }))
        return
      }
      verifier ??= createVerifier({
        issuer: issuer(),
        audience: this.url,
        ...(this.clock ? { clock: this.clock } : {}),
      })
      const requirement = this.requirements.get((req.url ?? '/').split('?')[0] ?? '/')
      authenticateRequest(
        verifier,
        { method: req.method ?? 'GET', url: this.url + (req.url ?? '/'), authorization, dpop },
        [],
        requirement,
      ).then(
        (r) => {
          if (!r.ok) {
            const a = challenge(r.error)
            res.writeHead(a.status, a.headers)
            res.end(a.body)
            return
          }
          const { sub, cnf, auth_time: authTime, acr } = r.token.claims
          res.writeHead(200, { 'content-type': 'application/json' })
          // The sign-in claims only on step-up routes, which are about them.
          const signIn = requirement ? { auth_time: authTime, acr } : {}
          res.end(JSON.stringify({ sub, jkt: cnf?.jkt ?? null, ...signIn }))
        },
        () => {
          res.writeHead(500)
          res.end()
        },
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

function nonceOf(proof: string): unknown {
  try {
    return decodeJwt(proof).nonce
  } catch {
    return undefined
  }
}
