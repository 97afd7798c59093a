import type { Clock } from '../lib/clock.js'
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
  /** RFC 9449 6.1: the thumbprint of the DPoP key the token is bound to. */
  readonly cnf?: { readonly jkt?: string }
  readonly [claim: string]: unknown
}

/** The parts of an HTTP request a verifier reads. */
export interface ProtectedRequest {
  /** The HTTP method, as sent (`GET`). */
  method: string
  /**
   * The absolute URL the client sent the request to (`https://api.example.com/orders?x=1`): its
   * query is checked for a leaked token, and for DPoP its origin and path must match the proof's
   * `htu` (see the `dpop.origin` option behind a proxy).
   */
  url: string
  /** The `Authorization` header. */
  authorization: string | undefined
  /** The `DPoP` header: a string, or every value when the framework keeps repeated headers apart. */
  dpop: string | readonly string[] | null | undefined
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
  /** Verifies a bare access token presented as a bearer token. */
  verify(token: string): Promise<VerifiedToken<Extra>>
  /** Verifies the access token of a request, with its DPoP proof when it is bound. */
  verifyRequest(request: ProtectedRequest): Promise<VerifiedToken<Extra>>
  /** The time source of the bindings' `maxAge` checks (RFC 9470). Default `Date.now`. */
  readonly clock?: Clock
}
