import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** Request objects are not supported (discovery says so); ignoring them would drop their claims. */
export const checkRequestObject: AuthorizeCheck = (r) => {
  if (r.params.has('request') || r.params.has('request_uri')) {
    throw new InvalidRequest('request objects (request, request_uri) are not supported')
  }
}
