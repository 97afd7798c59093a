import { param } from '../../../http/form.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** `state` is returned unchanged with the code or the error (RFC 6749 4.1.2). */
export const checkState: AuthorizeCheck = (r) => {
  r.state = param(r.params, 'state')
}
