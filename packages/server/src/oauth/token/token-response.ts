import type { FastifyReply } from 'fastify'

export interface TokenResponse {
  access_token: string
  /** `DPoP` when the access token is bound to the request's DPoP key (RFC 9449 5). */
  token_type: 'Bearer' | 'DPoP'
  expires_in: number
  scope: string
  refresh_token?: string
  /** Seconds until the session ends if unused (idle) or at the latest (absolute). */
  refresh_token_expires_in?: number
  id_token?: string
}

/** RFC 6749 5.1: JSON, never cached (TOK-01). */
export function sendTokens(reply: FastifyReply, body: TokenResponse): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(body))
}
