import { param, parseParams } from '../../http/form.js'
import { InvalidRequest } from '../../oauth/errors.js'
import type { AccountCheck } from '../account-request.js'

/** `?include=ended` adds the sessions that ended in the last 30 days; nothing else is valid. */
export const readListQuery: AccountCheck = (r) => {
  const q = r.req.url.indexOf('?')
  const params = parseParams(q >= 0 ? r.req.url.slice(q + 1) : '')
  const include = param(params, 'include', 64)
  if (include !== undefined && include !== 'ended') {
    throw new InvalidRequest('include must be ended')
  }
  r.includeEnded = include === 'ended'
}
