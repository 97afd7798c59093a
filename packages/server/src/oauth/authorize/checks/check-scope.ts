import { param } from '../../../http/form.js'
import { InvalidScope } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'
import { SCOPE_TOKEN } from '../../scope-token.js'

/**
 * The scope is required (OAuth 2.1 3.2.2.1 lets a server refuse a request without one) and must be
 * a subset of the client's scopes.
 */
export const checkScope: AuthorizeCheck = (r) => {
  const raw = param(r.params, 'scope')
  const tokens = [...new Set((raw ?? '').split(' ').filter((s) => s !== ''))]
  if (tokens.length === 0) throw new InvalidScope('scope is required')
  const allowed = new Set(r.client?.scopes ?? [])
  for (const s of tokens) {
    if (!SCOPE_TOKEN.test(s)) throw new InvalidScope('scope contains a malformed value')
    if (!allowed.has(s))
      throw new InvalidScope(`scope ${s.slice(0, 64)} is not allowed for this client`)
  }
  r.scope = tokens.join(' ')
}
