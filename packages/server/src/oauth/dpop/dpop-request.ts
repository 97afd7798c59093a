import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import type { ClientRecord } from '../../store/types.js'
import { InvalidDpopProof } from '../errors.js'
import { PATHS } from '../paths.js'
import { verifyDpopProof, type DpopProof } from './dpop-proof.js'

/** Every `DPoP` header of a request, each occurrence on its own (Node would join them). */
export function dpopHeaderValues(req: FastifyRequest): string[] {
  return req.raw.headersDistinct.dpop ?? []
}

/**
 * The DPoP proof of a token request (RFC 9449 5), or undefined when it has no `DPoP` header: then
 * the tokens are bearer tokens, unless the client is registered with `dpop: 'required'`.
 */
export async function tokenRequestProof(
  ctx: ServerContext,
  req: FastifyRequest,
  client: ClientRecord,
): Promise<DpopProof | undefined> {
  const values = dpopHeaderValues(req)
  if (values.length === 0) {
    if (client.dpop === 'required') {
      throw new InvalidDpopProof('a DPoP proof is required for this client')
    }
    return undefined
  }
  return verifyDpopProof(ctx, {
    values,
    method: req.method,
    url: ctx.config.issuer + PATHS.token,
    status: 400,
  })
}

/** The `cnf.jkt` of access token claims (RFC 9449 6.1), when the token is DPoP-bound. */
export function boundJkt(claims: Record<string, unknown>): string | undefined {
  const cnf = claims.cnf
  if (typeof cnf !== 'object' || cnf === null) return undefined
  const jkt = (cnf as Record<string, unknown>).jkt
  return typeof jkt === 'string' ? jkt : undefined
}
