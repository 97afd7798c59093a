/**
 * The one error class of `@tessera/client`, with a closed set of stable codes.
 *
 * Terminal codes mean the session is gone and the user must sign in again; the client has already
 * cleared it when such an error reaches you. Every other code keeps the session.
 *
 * @example
 * try {
 *   await client.getToken({ audience: 'https://api.example.com' })
 * } catch (err) {
 *   if (!(err instanceof TesseraClientError)) throw err
 *   switch (err.code) {
 *     case 'network':
 *     case 'rate_limited':
 *       showOfflineBanner()
 *       break
 *     case 'login_required':
 *       await client.signIn()
 *   }
 * }
 */
export type TesseraClientErrorCode =
  /** The request did not complete: no connection, DNS, reset, timeout. Transient. */
  | 'network'
  /** The server answered 5xx, `temporarily_unavailable`, or something that is not a valid
   * response. Transient. */
  | 'server'
  /** The server answered 429; `retryAfterSeconds` says when to try again. Transient. */
  | 'rate_limited'
  /** The storage adapter failed to read or write. Transient: the session is kept. */
  | 'storage_unavailable'
  /** The server refused a refresh token that this client had presented before and whose
   * successor was lost (SDK-02): the session is gone. Terminal. */
  | 'refresh_reused'
  /** The session reached its end (idle or absolute lifetime). Terminal. */
  | 'session_expired'
  /** The server no longer accepts the session's refresh token (signed out elsewhere, revoked by
   * an admin, reuse detected). Terminal. */
  | 'session_revoked'
  /** The authorization code could not be redeemed (`invalid_grant` at the token endpoint). */
  | 'invalid_grant'
  /** There is no session: sign in first. Terminal. */
  | 'login_required'
  /** The callback's `state` is missing, unknown or already used (SDK-03). */
  | 'state_mismatch'
  /** The callback's `iss` (RFC 9207) or the metadata's `issuer` (SDK-07) is not the configured
   * issuer. */
  | 'iss_mismatch'
  /** The ID token failed validation: signature, `iss`, `aud`, `azp`, `nonce`, `iat`, `exp` or
   * `sub` (SDK-03). */
  | 'id_token_invalid'
  /** The authorization server answered the sign-in with an error (`access_denied`, ...);
   * `oauthError` holds its code. */
  | 'authorization_failed'
  /** The server refused a request for reasons a retry cannot fix (`invalid_target`,
   * `invalid_scope`, `invalid_client`, ...); `oauthError` holds its code. The session is kept. */
  | 'request_rejected'
  /** The client configuration is invalid, or the platform lacks something it needs. */
  | 'configuration'
  /** The session is locked by the idle timeout; call `unlock()`. */
  | 'locked'
  /** The operation was cancelled (the client was signed out or disposed meanwhile). */
  | 'aborted'

const TERMINAL: ReadonlySet<TesseraClientErrorCode> = new Set([
  'refresh_reused',
  'session_expired',
  'session_revoked',
  'login_required',
])

const TRANSIENT: ReadonlySet<TesseraClientErrorCode> = new Set([
  'network',
  'server',
  'rate_limited',
  'storage_unavailable',
])

export interface TesseraClientErrorOptions {
  /** The OAuth `error` value the server sent, when there was one. */
  oauthError?: string
  /** The HTTP status the server sent, when there was one. */
  status?: number
  /** Seconds the server asked to wait (429 / 503 `Retry-After`). */
  retryAfterSeconds?: number
  cause?: unknown
}

export class TesseraClientError extends Error {
  override readonly name = 'TesseraClientError'
  readonly code: TesseraClientErrorCode
  readonly oauthError: string | undefined
  readonly status: number | undefined
  readonly retryAfterSeconds: number | undefined

  constructor(code: TesseraClientErrorCode, message: string, o: TesseraClientErrorOptions = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause })
    this.code = code
    this.oauthError = o.oauthError
    this.status = o.status
    this.retryAfterSeconds = o.retryAfterSeconds
  }

  /** Whether this error ended the session (the user must sign in again). */
  get terminal(): boolean {
    return TERMINAL.has(this.code)
  }

  /** Whether a later retry may succeed with nothing else changed. */
  get transient(): boolean {
    return TRANSIENT.has(this.code)
  }
}

export function isTerminal(code: TesseraClientErrorCode): boolean {
  return TERMINAL.has(code)
}

export function isTransient(code: TesseraClientErrorCode): boolean {
  return TRANSIENT.has(code)
}

/** Normalises anything thrown into a TesseraClientError, keeping the original as `cause`. */
export function asClientError(
  err: unknown,
  fallback: TesseraClientErrorCode = 'server',
): TesseraClientError {
  if (err instanceof TesseraClientError) return err
  return new TesseraClientError(fallback, 'unexpected failure', { cause: err })
}
