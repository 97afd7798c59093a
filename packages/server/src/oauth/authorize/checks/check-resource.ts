import { param, paramList } from '../../../http/form.js'
import { InvalidTarget } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/**
 * The APIs the grant may get tokens for: every `resource` (RFC 8707, repeatable) and Auth0's
 * `audience` alias must be one of the client's audiences (invalid_target). With none named, the
 * grant gets all of them, and each token request later picks one.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8707#section-2
 */
export const checkResource: AuthorizeCheck = (r) => {
  const allowed = r.client?.audiences ?? []
  const requested = [...paramList(r.params, 'resource')]
  const audience = param(r.params, 'audience')
  if (audience !== undefined && !requested.includes(audience)) requested.push(audience)
  for (const target of requested) {
    if (!isAbsoluteWithoutFragment(target)) {
      throw new InvalidTarget('resource must be an absolute URI without a fragment')
    }
    if (!allowed.includes(target)) {
      throw new InvalidTarget(`resource ${target.slice(0, 128)} is not available to this client`)
    }
  }
  r.resources = requested.length > 0 ? requested : [...allowed]
}

function isAbsoluteWithoutFragment(s: string): boolean {
  if (s.includes('#')) return false
  try {
    new URL(s)
    return true
  } catch {
    return false
  }
}
