import type { UserRecord } from '../store/types.js'
import { seconds } from '../lib/clock.js'

/** Standard OpenID claims of a user for the granted scopes (OIDC Core 5.4). */
export function userClaims(user: UserRecord, scope: string): Record<string, unknown> {
  const scopes = new Set(scope.split(' '))
  const out: Record<string, unknown> = {}
  if (scopes.has('profile')) {
    out.preferred_username = user.username
    if (user.name !== null) out.name = user.name
    out.updated_at = seconds(user.updatedAt)
  }
  if (scopes.has('email') && user.email !== null) {
    out.email = user.email
    // Proven by a verification or reset link; `metadata.email_verified` is how admins marked it
    // before links existed, still honoured.
    out.email_verified = user.emailVerifiedAt !== null || user.metadata.email_verified === true
  }
  return out
}
