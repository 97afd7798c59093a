/** What went wrong in an adapter of `@tessera/react-native`. */
export type TesseraNativeErrorCode =
  /** The secure store refused or failed a read or write (locked device, I/O, keystore). The
   * client keeps the session in memory and retries; it never signs out for this. */
  | 'storage_unavailable'
  /** A key the adapter cannot store (empty, or not a string). */
  | 'invalid_key'
  /** The platform lacks something the adapter needs (a native module not installed, a missing
   * CSPRNG on Hermes). Thrown when the adapter is built. */
  | 'configuration'
  /** The biometric prompt did not succeed (cancelled, failed, timed out, locked out). */
  | 'biometric_failed'
  /** Prompts are paused after repeated failures or cancels; `retryAfterMs` says for how long. */
  | 'biometric_backoff'
  /** The enrolled biometrics changed: the key bound to them is gone, the session was ended and
   * the user must sign in again. */
  | 'biometry_changed'
  /** The app's compromised-device policy refused the action. */
  | 'device_compromised'
  /** The system browser sign-in was cancelled or dismissed without a callback. */
  | 'sign_in_cancelled'
  /** Biometric step-up: the server no longer knows this device's key (removed by the user or an
   * admin: `server_credential_revoked`). The local key and its id were deleted; register again. */
  | 'device_key_revoked'
  /** Biometric step-up: the server refused the signed challenge (expired, replayed, bad
   * signature); `reason` is the server's `error`. Ask for a new step-up. */
  | 'step_up_refused'

export class TesseraNativeError extends Error {
  readonly code: TesseraNativeErrorCode
  /** For `biometric_backoff`: milliseconds until a prompt may start again. */
  readonly retryAfterMs: number | undefined
  /** For `biometric_failed`: the native module's reason (`user_cancel`, `lockout`, `timeout`...). */
  readonly reason: string | undefined

  constructor(
    code: TesseraNativeErrorCode,
    message: string,
    o: { cause?: unknown; retryAfterMs?: number; reason?: string } = {},
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause })
    this.name = 'TesseraNativeError'
    this.code = code
    this.retryAfterMs = o.retryAfterMs
    this.reason = o.reason
  }
}

/** A native module's error `code` (expo modules: `ERR_...`; react-native-keychain: an OSStatus on
 * iOS, `E_...` on Android), or undefined. */
export function nativeCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? code : typeof code === 'number' ? String(code) : undefined
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
