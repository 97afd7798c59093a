import type { TesseraVerifyError, VerifyErrorCode } from '../errors.js'

/** An HTTP answer to a failed authentication, ready for any framework to send. */
export interface AuthFailure {
  status: 400 | 401 | 403 | 500 | 503
  headers: Record<string, string>
  /** JSON: `{"error": ..., "error_description": ...}`. */
  body: string
}

type Rfc6750Error =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'insufficient_user_authentication'

/** How each code is answered: status and RFC 6750 3.1 error (undefined: no error attribute). */
const ANSWERS: Record<VerifyErrorCode, [AuthFailure['status'], Rfc6750Error | undefined]> = {
  token_missing: [401, undefined],
  token_in_query: [400, 'invalid_request'],
  token_too_large: [400, 'invalid_request'],
  token_malformed: [401, 'invalid_token'],
  algorithm_not_allowed: [401, 'invalid_token'],
  crit_unsupported: [401, 'invalid_token'],
  key_not_found: [401, 'invalid_token'],
  signature_invalid: [401, 'invalid_token'],
  wrong_type: [401, 'invalid_token'],
  wrong_issuer: [401, 'invalid_token'],
  wrong_audience: [401, 'invalid_token'],
  expired: [401, 'invalid_token'],
  not_yet_valid: [401, 'invalid_token'],
  claim_missing: [401, 'invalid_token'],
  claim_invalid: [401, 'invalid_token'],
  inactive: [401, 'invalid_token'],
  dpop_bound: [401, 'invalid_token'],
  dpop_not_bound: [401, 'invalid_token'],
  dpop_proof_invalid: [401, 'invalid_dpop_proof'],
  insufficient_scope: [403, 'insufficient_scope'],
  insufficient_user_authentication: [401, 'insufficient_user_authentication'],
  jwks_unavailable: [503, undefined],
  introspection_failed: [503, undefined],
  invalid_options: [500, undefined],
  // verifyWebhook's codes; no bearer-token path produces them.
  webhook_header_missing: [400, undefined],
  webhook_timestamp_invalid: [401, undefined],
  webhook_signature_invalid: [401, undefined],
  webhook_payload_invalid: [400, undefined],
}

/** RFC 6750 3: error_description and scope use %x20-21 / %x23-5B / %x5D-7E only. */
export function quotable(s: string): string {
  return s.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?').slice(0, 300)
}

/** Options of every middleware. */
export interface ChallengeOptions {
  /** `realm` of the WWW-Authenticate challenge. Default none. */
  realm?: string
}

/**
 * The response to a failed authentication (RFC 6750 3): 401 with `WWW-Authenticate: Bearer
 * error="invalid_token"`, 403 `insufficient_scope` with the `scope` needed, 400
 * `invalid_request`, or 503 with Retry-After when the issuer cannot be reached. A sign-in too old
 * or too weak for the route gets 401 `insufficient_user_authentication` with the `acr_values` and
 * `max_age` to ask the authorization server for (RFC 9470 3): a step-up, not a new token. A request with
 * no token gets a bare challenge. The token is never echoed.
 *
 * DPoP (RFC 9449 7.1): an error whose `scheme` is `DPoP` (the request used it, or the token needs
 * it) is challenged with `DPoP ..., algs="..."`, a bad proof with `error="invalid_dpop_proof"`.
 * A request without a token is offered both schemes when the error lists DPoP algorithms.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export function challenge(err: TesseraVerifyError, o: ChallengeOptions = {}): AuthFailure {
  const [status, error] = ANSWERS[err.code]
  const description = quotable(err.message)
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  }
  if (status === 401 || status === 400 || status === 403) {
    const params: string[] = []
    const realm = o.realm !== undefined ? `realm="${quotable(o.realm)}"` : undefined
    if (realm !== undefined) params.push(realm)
    if (error !== undefined) {
      params.push(`error="${error}"`, `error_description="${description}"`)
    }
    if (error === 'insufficient_scope' && err.scopes) {
      params.push(`scope="${quotable(err.scopes.join(' '))}"`)
    }
    if (error === 'insufficient_user_authentication') {
      if (err.acrValues) params.push(`acr_values="${quotable(err.acrValues.join(' '))}"`)
      if (err.maxAge !== undefined) params.push(`max_age="${err.maxAge}"`)
    }
    const algs = err.dpopAlgorithms?.length ? `algs="${err.dpopAlgorithms.join(' ')}"` : undefined
    if (err.scheme === 'DPoP') {
      const dpop = [...params, ...(algs ? [algs] : [])]
      headers['www-authenticate'] = dpop.length > 0 ? `DPoP ${dpop.join(', ')}` : 'DPoP'
    } else {
      let www = params.length > 0 ? `Bearer ${params.join(', ')}` : 'Bearer'
      // No credentials at all: either scheme will do.
      if (err.code === 'token_missing' && algs !== undefined) {
        www += `, DPoP ${[...(realm ? [realm] : []), algs].join(', ')}`
      }
      headers['www-authenticate'] = www
    }
  }
  if (status === 503) headers['retry-after'] = '5'
  const body =
    status === 503
      ? { error: 'temporarily_unavailable', error_description: description }
      : status === 500
        ? { error: 'server_error', error_description: 'the token verifier is misconfigured' }
        : // RFC 6750 3.1: no error code for a request without credentials; the body says why.
          { error: error ?? 'unauthorized', error_description: description }
  return { status, headers, body: JSON.stringify(body) }
}
