import { isVerifyError, type TesseraVerifyError } from '../errors.js'
import { insufficientScope, missingScopes } from '../jwt/check-claims.js'
import type { TokenVerifier, VerifiedToken } from '../verifier/verified-token.js'
import { bearerToken, searchOf } from './bearer-token.js'

export type AuthResult<Extra extends object> =
  { ok: true; token: VerifiedToken<Extra> } | { ok: false; error: TesseraVerifyError }

/**
 * The framework-agnostic core of every middleware: takes the token from the Authorization header,
 * verifies it and checks the scopes. Verification failures come back as a result; anything else
 * (a bug) is thrown, so the framework answers 500 and nothing is let through.
 */
export async function authenticateRequest<Extra extends object>(
  verifier: TokenVerifier<Extra>,
  authorization: string | undefined,
  url: string,
  scopes: readonly string[] = [],
): Promise<AuthResult<Extra>> {
  try {
    const token = await verifier.verify(bearerToken(authorization, searchOf(url)))
    checkScopes(token, scopes)
    return { ok: true, token }
  } catch (err) {
    if (isVerifyError(err)) return { ok: false, error: err }
    throw err
  }
}

/** Throws `insufficient_scope` unless the token carries every scope in `scopes`. */
export function checkScopes(token: VerifiedToken, scopes: readonly string[]): void {
  if (scopes.length === 0) return
  const missing = missingScopes(token.scopes, scopes)
  if (missing.length > 0) throw insufficientScope(missing, scopes)
}
