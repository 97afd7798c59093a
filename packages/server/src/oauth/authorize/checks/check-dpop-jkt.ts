import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** A SHA-256 JWK thumbprint in base64url: 43 characters. */
const JKT = /^[A-Za-z0-9_-]{43}$/

/**
 * `dpop_jkt` (RFC 9449 10): binds the code to a DPoP key, so only a token request with a proof
 * of that key can redeem it. Optional; when present it must be a SHA-256 JWK thumbprint.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-10
 */
export const checkDpopJkt: AuthorizeCheck = (r) => {
  const jkt = param(r.params, 'dpop_jkt')
  if (jkt === undefined) return
  if (!JKT.test(jkt)) {
    throw new InvalidRequest('dpop_jkt must be a base64url SHA-256 JWK thumbprint (43 characters)')
  }
  r.dpopJkt = jkt
}
