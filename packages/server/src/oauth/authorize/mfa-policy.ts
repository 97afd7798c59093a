import type { ServerContext } from '../../context.js'
import { ACR_MFA } from '../../mfa/second-factor.js'
import type { TrustedRequest } from './authorization-request.js'

/**
 * Whether an authorization request needs a second factor: the client requires MFA, an API the
 * grant covers does (the client's every audience when the request names none), or `acr_values`
 * asks for `urn:tessera:acr:mfa`. A user with an authenticator is then asked for a code; one
 * without gets a `pending` session with the task `setup-mfa`.
 */
export async function mfaWanted(ctx: ServerContext, r: TrustedRequest): Promise<boolean> {
  if (r.client.requireMfa === true) return true
  if (r.acrValues.includes(ACR_MFA)) return true
  const audiences = r.resources.length > 0 ? r.resources : r.client.audiences
  for (const aud of audiences) {
    if ((await ctx.store.getApi(aud))?.requireMfa === true) return true
  }
  return false
}
