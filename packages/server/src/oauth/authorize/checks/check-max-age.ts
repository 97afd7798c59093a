import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** `max_age`: seconds since the last authentication beyond which the user signs in again. */
export const checkMaxAge: AuthorizeCheck = (r) => {
  const raw = param(r.params, 'max_age')
  if (raw === undefined) return
  if (!/^[0-9]{1,9}$/.test(raw)) {
    throw new InvalidRequest('max_age must be a whole number of seconds')
  }
  r.maxAge = Number(raw)
}
