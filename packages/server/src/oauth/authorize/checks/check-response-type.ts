import { param } from '../../../http/form.js'
import { InvalidRequest, UnsupportedResponseType } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/**
 * Only the code flow: no token ever travels in the front channel (RDR-07; RFC 9700 2.1.2,
 * OAuth 2.1 10.1).
 */
export const checkResponseType: AuthorizeCheck = (r) => {
  const rt = param(r.params, 'response_type')
  if (rt === undefined) throw new InvalidRequest('missing required parameter response_type')
  if (rt !== 'code') throw new UnsupportedResponseType('only response_type=code is supported')
}
