import { isVerifyError, type TesseraVerifyError } from '../errors.js'
import { insufficientScope, missingScopes } from '../jwt/check-claims.js'
import { checkAuthentication, type AuthenticationRequirement } from './check-authentication.js'
import type { ProtectedRequest, TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'

export type AuthResult<Extra extends object> =
  { ok: true; token: VerifiedToken<Extra> } | { ok: false; error: TesseraVerifyError }

/**
 * The framework-agnostic core of every middleware: verifies the request's access token (`Bearer`,
 * or `DPoP` with its proof), then the sign-in behind it against `requirement` (RFC 9470, by the
 * verifier's `clock`), then the scopes. Verification failures come back as a result;
 * anything else (a bug) is thrown, so the framework answers 500 and nothing is let through.
 */
export async function authenticateRequest<Extra extends object>(
  verifier: TokenVerifier<Extra>,
  request: ProtectedRequest,
  scopes: readonly string[] = [],
  requirement: AuthenticationRequirement = {},
): Promise<AuthResult<Extra>> {
  try {
    const token = await verifier.verifyRequest(request)
    checkAuthentication(token, requirement, (verifier.clock ?? Date).now())
    checkScopes(token, scopes)
    return { ok: true, token }
  } catch (err) {
    if (isVerifyError(err)) return { ok: false, error: err }
    throw err
  }
}

/** Throws `insufficient_scope` unless the token carries every scope in `scopes`; for a
 * DPoP-bound token (presented with the DPoP scheme) the challenge is a DPoP one. */
export function checkScopes(token: VerifiedToken, scopes: readonly string[]): void {
  if (scopes.length === 0) return
  const missing = missingScopes(token.scopes, scopes)
  if (missing.length === 0) return
  const err = insufficientScope(missing, scopes)
  throw typeof token.claims.cnf?.jkt === 'string' ? err.withChallenge('DPoP', []) : err
}
