import type { ServerContext } from '../../context.js'
import type { AuthorizationRequest } from './authorization-request.js'

/** One check of /authorize: reads parameters into the request, or throws an OAuthError. */
export type AuthorizeCheck = (r: AuthorizationRequest, ctx: ServerContext) => void | Promise<void>
