import { param } from '../../../http/form.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** `nonce` goes unchanged into the ID token (OIDC Core 3.1.2.1); optional in the code flow. */
export const checkNonce: AuthorizeCheck = (r) => {
  r.nonce = param(r.params, 'nonce') ?? null
}
