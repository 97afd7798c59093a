/**
 * Every way a verification can fail, as a closed set of stable codes. `switch (err.code)` over a
 * {@link VerifyError} narrows to the code's extra fields.
 *
 * | code                    | HTTP | RFC 6750 error       | meaning                                             |
 * |-------------------------|------|----------------------|-----------------------------------------------------|
 * | `token_missing`         | 401  | (none)               | no `Authorization: Bearer` header                   |
 * | `token_in_query`        | 400  | `invalid_request`    | `access_token` in the URL (OAuth 2.1 5.1)           |
 * | `token_too_large`       | 400  | `invalid_request`    | over the size limit, refused before any crypto      |
 * | `token_malformed`       | 401  | `invalid_token`      | not a compact JWS with a JSON header and payload    |
 * | `algorithm_not_allowed` | 401  | `invalid_token`      | `none`, HMAC, not allowed, or not the key's own alg |
 * | `crit_unsupported`      | 401  | `invalid_token`      | `crit` names an extension this verifier lacks       |
 * | `key_not_found`         | 401  | `invalid_token`      | no usable key in the issuer's JWKS for the `kid`    |
 * | `signature_invalid`     | 401  | `invalid_token`      | the signature does not verify                       |
 * | `wrong_type`            | 401  | `invalid_token`      | `typ` is not `at+jwt` (an ID or logout token)       |
 * | `wrong_issuer`          | 401  | `invalid_token`      | `iss` is not the configured issuer                  |
 * | `wrong_audience`        | 401  | `invalid_token`      | `aud` does not contain the configured audience      |
 * | `expired`               | 401  | `invalid_token`      | `exp` has passed (beyond the clock tolerance)       |
 * | `not_yet_valid`         | 401  | `invalid_token`      | `nbf` or `iat` is in the future                     |
 * | `claim_missing`         | 401  | `invalid_token`      | a required claim is absent                          |
 * | `claim_invalid`         | 401  | `invalid_token`      | a claim has the wrong type or fails its check       |
 * | `inactive`              | 401  | `invalid_token`      | introspection says the token is no longer active    |
 * | `dpop_bound`            | 401  | `invalid_token`      | a DPoP-bound token (`cnf.jkt`) presented as Bearer  |
 * | `dpop_not_bound`        | 401  | `invalid_token`      | an unbound token with the DPoP scheme, or a Bearer token where `dpop.required` |
 * | `dpop_proof_invalid`    | 401  | `invalid_dpop_proof` | the DPoP proof is missing or fails a check (RFC 9449 4.3) |
 * | `insufficient_scope`    | 403  | `insufficient_scope` | the token lacks a required scope                    |
 * | `insufficient_user_authentication` | 401 | `insufficient_user_authentication` | the sign-in behind the token is too old (`auth_time`) or too weak (`acr`) for the route (RFC 9470) |
 * | `jwks_unavailable`      | 503  | (none)               | discovery or the JWKS cannot be fetched             |
 * | `introspection_failed`  | 503  | (none)               | the introspection endpoint did not answer properly  |
 * | `invalid_options`       | 500  | (none)               | `createVerifier` was given bad options              |
 * | `webhook_header_missing`    | 400 | (none) | a `webhook-*` header is absent, repeated or too long |
 * | `webhook_timestamp_invalid` | 401 | (none) | `webhook-timestamp` not a number or outside the tolerance |
 * | `webhook_signature_invalid` | 401 | (none) | no `v1` signature matches the body                   |
 * | `webhook_payload_invalid`   | 400 | (none) | a verified body that is not a JSON object, or too large |
 *
 * Messages name the header, claim or option and the reason. They never contain the token, a
 * secret, or a value taken from an unverified token.
 */
export type VerifyErrorCode =
  | 'token_missing'
  | 'token_in_query'
  | 'token_too_large'
  | 'token_malformed'
  | 'algorithm_not_allowed'
  | 'crit_unsupported'
  | 'key_not_found'
  | 'signature_invalid'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_missing'
  | 'claim_invalid'
  | 'inactive'
  | 'dpop_bound'
  | 'dpop_not_bound'
  | 'dpop_proof_invalid'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'jwks_unavailable'
  | 'introspection_failed'
  | 'invalid_options'
  | 'webhook_header_missing'
  | 'webhook_timestamp_invalid'
  | 'webhook_signature_invalid'
  | 'webhook_payload_invalid'

/** Codes that carry the name of the claim at fault in `claim`. */
export type ClaimErrorCode =
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'claim_missing'
  | 'claim_invalid'

/**
 * The one error class of `@tessera/verify`. Narrow with {@link isVerifyError} and
 * `switch (err.code)`.
 *
 * @example
 * ```ts
 * try {
 *   const { claims } = await verifier.verify(token)
 * } catch (err) {
 *   if (!isVerifyError(err)) throw err
 *   switch (err.code) {
 *     case 'expired':
 *       return refresh()
 *     case 'insufficient_scope':
 *       return deny(err.scopes)
 *     default:
 *       return reject(err.message)
 *   }
 * }
 * ```
 */
export class TesseraVerifyError extends Error {
  override readonly name = 'TesseraVerifyError'
  readonly code: VerifyErrorCode
  /** The claim at fault, for the {@link ClaimErrorCode} codes. */
  readonly claim: string | undefined
  /** The scopes the request needed, for `insufficient_scope`. */
  readonly scopes: readonly string[] | undefined
  /** For `insufficient_user_authentication`: the `acr` values the route accepts, when it names
   * some (the challenge's `acr_values`, RFC 9470 3). */
  readonly acrValues: readonly string[] | undefined
  /** For `insufficient_user_authentication`: the seconds since the sign-in the route allows, when
   * it sets a limit (the challenge's `max_age`, RFC 9470 3). */
  readonly maxAge: number | undefined
  /**
   * The scheme a failed request is challenged with (RFC 9449 7.1): `DPoP` when the request used
   * it or the token needs it, else `Bearer`. Set by `verifyRequest`; default `Bearer`.
   */
  readonly scheme: 'Bearer' | 'DPoP'
  /** The DPoP proof algorithms the verifier accepts, for the challenge's `algs`; set by
   * `verifyRequest`. */
  readonly dpopAlgorithms: readonly string[] | undefined

  constructor(
    code: VerifyErrorCode,
    message: string,
    extra: {
      claim?: string
      scopes?: readonly string[]
      acrValues?: readonly string[] | undefined
      maxAge?: number | undefined
      cause?: unknown
      scheme?: 'Bearer' | 'DPoP'
      dpopAlgorithms?: readonly string[]
    } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    this.code = code
    this.claim = extra.claim
    this.scopes = extra.scopes
    this.acrValues = extra.acrValues
    this.maxAge = extra.maxAge
    this.scheme = extra.scheme ?? 'Bearer'
    this.dpopAlgorithms = extra.dpopAlgorithms
  }

  /** The same error, to be challenged with `scheme` and listing `dpopAlgorithms`. */
  withChallenge(scheme: 'Bearer' | 'DPoP', dpopAlgorithms: readonly string[]): TesseraVerifyError {
    const e = new TesseraVerifyError(this.code, this.message, {
      ...(this.claim !== undefined ? { claim: this.claim } : {}),
      ...(this.scopes !== undefined ? { scopes: this.scopes } : {}),
      ...(this.cause !== undefined ? { cause: this.cause } : {}),
      acrValues: this.acrValues,
      maxAge: this.maxAge,
      scheme,
      dpopAlgorithms,
    })
    e.stack = this.stack
    return e
  }
}

/** {@link TesseraVerifyError} as a discriminated union on `code`. */
export type VerifyError =
  | (TesseraVerifyError & { readonly code: ClaimErrorCode; readonly claim: string })
  | (TesseraVerifyError & {
      readonly code: 'insufficient_scope'
      readonly scopes: readonly string[]
    })
  | (TesseraVerifyError & { readonly code: 'insufficient_user_authentication' })
  | (TesseraVerifyError & {
      readonly code: Exclude<
        VerifyErrorCode,
        ClaimErrorCode | 'insufficient_scope' | 'insufficient_user_authentication'
      >
    })

export function isVerifyError(err: unknown): err is VerifyError {
  return err instanceof TesseraVerifyError
}

export const claimError = (
  code: ClaimErrorCode,
  claim: string,
  message: string,
): TesseraVerifyError => new TesseraVerifyError(code, message, { claim })
