import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'
import { PROMPTS } from '../authorization-request.js'

/**
 * `prompt` (OIDC Core 3.1.2.1): `none` never shows a page (no session: login_required), `login`
 * and `select_account` show the sign-in form even with a live session, `consent` is satisfied by
 * registration (clients are first-party, configured by the operator). The values are recorded
 * before validation so that `none` is honoured even in a request with another error.
 */
export const checkPrompt: AuthorizeCheck = (r) => {
  const values = (param(r.params, 'prompt') ?? '').split(' ').filter((s) => s !== '')
  r.prompt = new Set(values)
  for (const v of values) {
    if (!(PROMPTS as readonly string[]).includes(v)) {
      throw new InvalidRequest('prompt contains an unsupported value')
    }
  }
  if (r.prompt.has('none') && r.prompt.size > 1) {
    throw new InvalidRequest('prompt=none cannot be combined with other values')
  }
}
