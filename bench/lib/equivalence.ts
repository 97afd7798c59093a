import { API_AUDIENCE, API_SCOPE, CLIENT_ID } from './constants.js'
import { decodeJwt } from './jwt.js'

export interface TokenShape {
  alg: unknown
  typ: unknown
  claims: string[]
  responseFields: string[]
  /** Empty when the access token carries what both targets must issue. */
  problems: string[]
}

/**
 * What a refresh response carries, and whether its access token has the contents both targets are
 * configured to issue: an ES256 `at+jwt` for the API audience with the API scope, the client id
 * and the session id.
 */
export function inspectRefreshResponse(body: Record<string, unknown>): TokenShape {
  const problems: string[] = []
  const { header, payload } = decodeJwt(String(body.access_token))
  if (header.alg !== 'ES256') problems.push(`alg is ${String(header.alg)}, not ES256`)
  if (header.typ !== 'at+jwt') problems.push(`typ is ${String(header.typ)}, not at+jwt`)
  const aud = payload.aud
  if (!(
    aud === API_AUDIENCE ||
    (Array.isArray(aud) && aud.length === 1 && aud[0] === API_AUDIENCE)
  )) {
    problems.push(`aud is ${JSON.stringify(aud)}`)
  }
  if (typeof payload.scope !== 'string' || !payload.scope.split(' ').includes(API_SCOPE)) {
    problems.push(`scope is ${JSON.stringify(payload.scope)}`)
  }
  if (payload.client_id !== CLIENT_ID)
    problems.push(`client_id is ${JSON.stringify(payload.client_id)}`)
  if (typeof payload.sid !== 'string' || payload.sid === '') problems.push('no sid')
  if (typeof body.id_token !== 'string') problems.push('no id_token')
  return {
    alg: header.alg,
    typ: header.typ,
    claims: Object.keys(payload).sort(),
    responseFields: Object.keys(body).sort(),
    problems,
  }
}
