import { presentedToken } from '../../oauth/bearer.js'
import type { AccountCheck } from '../account-request.js'

/** The access token from the Authorization header only (`Bearer`, or `DPoP` for a DPoP-bound
 * token): never the URL (TOK-02), never a body. */
export const readBearerToken: AccountCheck = (r, ctx) => {
  r.presented = presentedToken(ctx, r.req)
  r.token = r.presented.token
}
