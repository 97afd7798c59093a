import { param } from '../../../http/form.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** `login_hint` pre-fills the username on the sign-in form; it never selects an account. */
export const checkLoginHint: AuthorizeCheck = (r) => {
  r.loginHint = param(r.params, 'login_hint')
}
