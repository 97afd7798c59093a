/**
 * OAuth errors, one class per RFC 6749 `error` value. `description` is public (sent as
 * `error_description`); `detail` is for logs only. Neither may contain a token, secret or password.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'unsupported_token_type'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'insufficient_user_authentication'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'session_pending'
  | 'temporarily_unavailable'
  | 'server_error'
  // Not RFC 6749 values: the JSON account and admin APIs answer in the same shape with these too.
  | 'not_found'
  | 'conflict'
  /** Biometric step-up: the device key the challenge names was removed (re-register a key). */
  | 'server_credential_revoked'

export abstract class OAuthError extends Error {
  abstract readonly error: OAuthErrorCode
  abstract readonly status: number
  /** Log-only context; never serialized to the client. */
  readonly detail: string | undefined
  /** Extra response headers (e.g. Retry-After, WWW-Authenticate). */
  headers: Record<string, string> = {}

  constructor(description: string, detail?: string) {
    super(description)
    this.detail = detail
  }

  get description(): string {
    return this.message
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: safeDescription(this.message) }
  }
}

export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request'
  readonly status: number = 400
  override readonly name = 'InvalidRequest'
}
export class PayloadTooLarge extends InvalidRequest {
  override readonly status = 413
}
export class InvalidClient extends OAuthError {
  readonly error = 'invalid_client'
  readonly status = 401
  override readonly name = 'InvalidClient'
}
export class InvalidGrant extends OAuthError {
  readonly error = 'invalid_grant'
  readonly status = 400
  override readonly name = 'InvalidGrant'
}
export class UnauthorizedClient extends OAuthError {
  readonly error = 'unauthorized_client'
  readonly status = 400
  override readonly name = 'UnauthorizedClient'
}
export class UnsupportedGrantType extends OAuthError {
  readonly error = 'unsupported_grant_type'
  readonly status = 400
  override readonly name = 'UnsupportedGrantType'
}
export class UnsupportedResponseType extends OAuthError {
  readonly error = 'unsupported_response_type'
  readonly status = 400
  override readonly name = 'UnsupportedResponseType'
}
export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope'
  readonly status = 400
  override readonly name = 'InvalidScope'
}
export class InvalidTarget extends OAuthError {
  readonly error = 'invalid_target'
  readonly status = 400
  override readonly name = 'InvalidTarget'
}
/** RFC 7009 2.2.1: the server cannot revoke this kind of token. */
export class UnsupportedTokenType extends OAuthError {
  readonly error = 'unsupported_token_type'
  readonly status = 400
  override readonly name = 'UnsupportedTokenType'
}
export class LoginRequired extends OAuthError {
  readonly error = 'login_required'
  readonly status = 400
  override readonly name = 'LoginRequired'
}
export class InteractionRequired extends OAuthError {
  readonly error = 'interaction_required'
  readonly status = 400
  override readonly name = 'InteractionRequired'
}
/** The session is `pending` a task (OIDC-style extension error of the token endpoint): it gets
 * no API access tokens until the task is done. Not terminal: the session stays. */
export class SessionPending extends OAuthError {
  readonly error = 'session_pending'
  readonly status = 400
  override readonly name = 'SessionPending'
  constructor(readonly task: string) {
    super(
      `the session is pending the task ${task}: complete it before requesting tokens for an API`,
    )
  }
  override toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { ...super.toJSON(), tessera_task: this.task } as ReturnType<OAuthError['toJSON']>
  }
}
export class InvalidToken extends OAuthError {
  readonly error = 'invalid_token'
  readonly status = 401
  override readonly name = 'InvalidToken'
}
export class InsufficientScope extends OAuthError {
  readonly error = 'insufficient_scope'
  readonly status = 403
  override readonly name = 'InsufficientScope'
}
/**
 * RFC 9470 (Step-Up Authentication): the token is valid, but its authentication is too old (or too
 * weak) for this request; the client re-authenticates with `max_age` (or `acr_values`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9470#section-3
 */
export class InsufficientUserAuthentication extends OAuthError {
  readonly error = 'insufficient_user_authentication'
  readonly status = 401
  override readonly name = 'InsufficientUserAuthentication'
}
/** The JSON APIs' (account, admin) answer for a record that does not exist or is not the
 * caller's. */
export class NotFound extends OAuthError {
  readonly error = 'not_found'
  readonly status = 404
  override readonly name = 'NotFound'
}
/** RFC 9449 5 and 7.1: the DPoP proof is missing or invalid. 400 at the token endpoint, 401 at a
 * protected resource. */
export class InvalidDpopProof extends OAuthError {
  readonly error = 'invalid_dpop_proof'
  readonly status: number
  override readonly name = 'InvalidDpopProof'
  constructor(description: string, status: 400 | 401 = 400, detail?: string) {
    super(description, detail)
    this.status = status
  }
}
/** RFC 9449 8 and 9: the proof lacks the current server nonce, sent along in `DPoP-Nonce`. */
export class UseDpopNonce extends OAuthError {
  readonly error = 'use_dpop_nonce'
  readonly status: number
  override readonly name = 'UseDpopNonce'
  constructor(description: string, nonce: string, status: 400 | 401 = 400) {
    super(description)
    this.status = status
    this.headers['dpop-nonce'] = nonce
  }
}
/** Rate limited (429) or the store is unreachable (503); always carries Retry-After. */
export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable'
  readonly status: number
  override readonly name = 'TemporarilyUnavailable'
  constructor(description: string, retryAfterSeconds: number, status: 429 | 503, detail?: string) {
    super(description, detail)
    this.status = status
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterSeconds)))
  }
}
/** Admin API: the request conflicts with the record's state (taken name, managed by the
 * configuration, already disabled ...). */
export class Conflict extends OAuthError {
  readonly error = 'conflict'
  readonly status = 409
  override readonly name = 'Conflict'
}
/** Biometric step-up: the device key was removed (by the user or an admin); the app must register
 * a new one. Named after Clerk's trusted-device error. */
export class CredentialRevoked extends OAuthError {
  readonly error = 'server_credential_revoked'
  readonly status = 400
  override readonly name = 'CredentialRevoked'
}
export class ServerError extends OAuthError {
  readonly error = 'server_error'
  readonly status = 500
  override readonly name = 'ServerError'
}

/** RFC 6749 limits error_description to %x20-21 / %x23-5B / %x5D-7E. */
export function safeDescription(s: string): string {
  return s.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?').slice(0, 300)
}
