import { bearerToken } from '../../oauth/bearer.js'
import type { AccountCheck } from '../account-request.js'

/** The access token from the Authorization header only: never the URL (TOK-02), never a body. */
export const readBearerToken: AccountCheck = (r) => {
  r.token = bearerToken(r.req)
}
