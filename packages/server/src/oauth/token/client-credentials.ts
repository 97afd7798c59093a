import { param } from '../../http/form.js'
import { InvalidTarget } from '../errors.js'
import {
  narrowScope,
  parseScope,
  requestedResources,
  resolveAudience,
  scopeForApi,
} from './audience.js'
import type { GrantHandler } from './grant.js'

/**
 * `grant_type=client_credentials` (RFC 6749 4.4) for confidential clients: an access token whose
 * `sub` is the client, for one of the client's audiences. No refresh token, no session.
 */
export const clientCredentialsGrant: GrantHandler = async (g) => {
  const { ctx, body, client } = g
  const requested = parseScope(param(body, 'scope', 2048))
  let resources = requestedResources(body)
  if (resources.length === 0) {
    if (client.audiences.length !== 1) {
      throw new InvalidTarget('resource is required: this client may call several APIs')
    }
    resources = [client.audiences[0] as string]
  }
  if (resources[0] === ctx.config.issuer) {
    throw new InvalidTarget('client_credentials tokens are for APIs, not for the issuer')
  }
  const api = await resolveAudience(ctx, resources, client.audiences)
  const allowed = client.scopes.filter((s) => api.scopes.includes(s))
  const scopes = narrowScope(requested, allowed)
  const at = await ctx.tokens.accessToken({
    api,
    client,
    user: undefined,
    scope: scopeForApi(api, scopes),
    ...(g.dpop ? { jkt: g.dpop.jkt } : {}),
  })
  ctx.metrics.tokens.inc({ grant_type: 'client_credentials' })
  return {
    access_token: at.token,
    token_type: g.dpop ? 'DPoP' : 'Bearer',
    expires_in: at.expiresIn,
    scope: scopeForApi(api, scopes),
  }
}
