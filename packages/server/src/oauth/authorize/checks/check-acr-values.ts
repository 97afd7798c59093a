import { param } from '../../../http/form.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/**
 * `acr_values` (OIDC Core 3.1.2.1): space-separated, in order of preference. Voluntary: values
 * this server does not know are ignored; `urn:tessera:acr:mfa` asks for a second factor (see
 * mfa-policy.ts), `urn:tessera:acr:pwd` is met by any sign-in.
 */
export const checkAcrValues: AuthorizeCheck = (r) => {
  r.acrValues = (param(r.params, 'acr_values') ?? '').split(' ').filter((s) => s !== '')
}
