import { acceptsExpoGoRedirect } from '../../../dev/demo.js'
import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import { redirectUriMatches } from '../../redirect-uri.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/**
 * The redirect URI must match a registered one exactly (loopback ports aside, for native clients;
 * RDR-01, RDR-02), and may be omitted only when the client registered exactly one (RDR-04, OAuth
 * 2.1 4.1.1). A mismatch gets a page: the URI is not trusted (RDR-05). `tessera dev` alone also
 * accepts Expo Go's `exp://HOST:PORT/--/...` for its demo client (see `isExpoGoRedirectUri`).
 */
export const checkRedirectUri: AuthorizeCheck = (r, ctx) => {
  const client = r.client
  if (!client) throw new InvalidRequest('missing required parameter client_id')
  const requested = param(r.params, 'redirect_uri')
  if (requested === undefined) {
    const [only, ...more] = client.redirectUris
    if (only === undefined) throw new InvalidRequest('the client has no registered redirect_uri')
    if (more.length > 0) {
      throw new InvalidRequest('redirect_uri is required: the client registered more than one')
    }
    r.redirectUri = only
    return
  }
  if (
    !redirectUriMatches(requested, client.redirectUris, client.applicationType) &&
    !acceptsExpoGoRedirect(ctx.config.dev, client.id, requested)
  ) {
    throw new InvalidRequest('redirect_uri is not registered for this client')
  }
  r.redirectUri = requested
}
