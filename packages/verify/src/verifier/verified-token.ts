import type { Algorithm } from './options.js'

/**
 * The claims of an RFC 9068 access token. The ones typed without `?` were checked to be present
 * with these types; others are as the issuer wrote them.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2
 */
export interface AccessTokenClaims {
  readonly iss: string
  readonly sub: string
  readonly aud: string | readonly string[]
  /** Expiry, in seconds since the epoch. */
  readonly exp: number
  /** Issue time, in seconds since the epoch. */
  readonly iat: number
  readonly jti: string
  readonly client_id: string
  readonly nbf?: number
  /** Space-separated scopes; see {@link VerifiedToken.scopes}. */
  readonly scope?: string
  /** Tessera's session ID. */
  readonly sid?: string
  readonly auth_time?: number
  readonly acr?: string
  readonly amr?: readonly string[]
  readonly [claim: string]: unknown
}

/**
 * A token that passed every check. Frozen: with the token cache on, the same object answers every
 * presentation of the token, so nobody may change it.
 */
export interface VerifiedToken<Extra extends object = object> {
  readonly claims: AccessTokenClaims & Readonly<Extra>
  /** The `scope` claim split into its scopes. */
  readonly scopes: readonly string[]
  readonly header: { readonly alg: Algorithm; readonly kid: string | undefined }
}

/** What the middleware needs of a verifier; {@link createVerifier}'s result is one. */
export interface TokenVerifier<Extra extends object = object> {
  verify(token: string): Promise<VerifiedToken<Extra>>
}
