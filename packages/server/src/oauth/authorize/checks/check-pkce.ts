import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** RFC 7636 4.1: 43 to 128 characters of the unreserved set. */
const CHALLENGE = /^[A-Za-z0-9._~-]{43,128}$/

/**
 * PKCE is required of every client, with S256 only: no challenge (PKCE-01), `plain` or no method
 * (PKCE-02), a challenge of the wrong length or charset (PKCE-06) are all invalid_request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-2.1.1
 */
export const checkPkce: AuthorizeCheck = (r) => {
  const challenge = param(r.params, 'code_challenge')
  if (challenge === undefined) {
    throw new InvalidRequest('code_challenge is required (PKCE with S256)')
  }
  const method = param(r.params, 'code_challenge_method')
  if (method === undefined) {
    throw new InvalidRequest('code_challenge_method is required and must be S256')
  }
  if (method === 'plain') {
    throw new InvalidRequest('code_challenge_method plain is not allowed; use S256')
  }
  if (method !== 'S256') throw new InvalidRequest('code_challenge_method must be S256')
  if (!CHALLENGE.test(challenge)) {
    throw new InvalidRequest('code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~')
  }
  r.codeChallenge = challenge
}
