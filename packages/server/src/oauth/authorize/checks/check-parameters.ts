import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'
import { AUTHORIZATION_PARAMETERS } from '../authorization-request.js'

/** Most `resource` values one request may name. */
export const MAX_RESOURCES = 16
/** Most characters of all recognised parameters together, so the pending request fits a URL. */
export const MAX_REQUEST_CHARS = 8192

/**
 * Malformed requests get a page, not a redirect: a parameter given twice (RFC 6749 3.1; only
 * `resource` repeats, RFC 8707), a value over its length, or an oversized request. With two
 * `state` or `redirect_uri` values there is no telling which one to answer.
 */
export const checkParameters: AuthorizeCheck = (r) => {
  let total = 0
  for (const [name, values] of r.params) {
    if (name === 'resource') {
      if (values.length > MAX_RESOURCES) {
        throw new InvalidRequest(`at most ${MAX_RESOURCES} resource parameters are allowed`)
      }
    } else if (values.length > 1) {
      throw new InvalidRequest(`parameter ${name} is included more than once`)
    }
    const max = AUTHORIZATION_PARAMETERS.get(name) ?? 0
    for (const v of values) {
      if (v.length > max) throw new InvalidRequest(`parameter ${name} is too long`)
      total += name.length + v.length
    }
  }
  if (total > MAX_REQUEST_CHARS) throw new InvalidRequest('the authorization request is too large')
}
