import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** Responses go in the query string; fragment and form_post are not offered. */
export const checkResponseMode: AuthorizeCheck = (r) => {
  const mode = param(r.params, 'response_mode')
  if (mode !== undefined && mode !== 'query') {
    throw new InvalidRequest('only response_mode=query is supported')
  }
}
