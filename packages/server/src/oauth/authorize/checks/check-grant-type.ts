import { UnauthorizedClient } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** The client must be registered for the authorization code grant. */
export const checkGrantType: AuthorizeCheck = (r) => {
  if (!r.client?.grantTypes.includes('authorization_code')) {
    throw new UnauthorizedClient('the client is not allowed to use the authorization code grant')
  }
}
