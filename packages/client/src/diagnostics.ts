import type { TesseraClientErrorCode } from './errors.js'
import type { SessionStatus, SignedOutReason } from './session/session-state.js'

/**
 * What the client reports about its own work, for logs and dashboards. Events never carry a
 * token, a code, a verifier or a claim value: audiences, durations, codes and states only.
 */
export type DiagnosticEvent =
  | { type: 'cache_hit'; audience: string }
  | { type: 'cache_miss'; audience: string }
  | { type: 'lock_wait'; waitedMs: number }
  | { type: 'refresh_start'; audience: string; afterInterruption: boolean }
  | {
      type: 'refresh_end'
      audience: string
      ok: boolean
      durationMs: number
      errorCode?: TesseraClientErrorCode
    }
  | { type: 'retry_scheduled'; inMs: number; errorCode: TesseraClientErrorCode }
  | { type: 'token_rejected'; audience: string }
  | { type: 'replay'; audience: string }
  /** An API answered 401 `insufficient_user_authentication` (RFC 9470): the sign-in is too old
   * (`maxAge`, seconds) or too weak (`acrValues`) for it. Pass these to `stepUp`. */
  | {
      type: 'step_up_required'
      audience: string
      acrValues: string[] | undefined
      maxAge: number | undefined
    }
  | { type: 'state'; status: SessionStatus; reason: SignedOutReason | null }
  | { type: 'error'; operation: string; code: TesseraClientErrorCode }
  | { type: 'tab_message'; message: string }
  | { type: 'sign_out'; step: 'local' | 'revoked' | 'revoke_failed' | 'storage_cleared' }
  | { type: 'clock_offset'; offsetMs: number }

export type DiagnosticListener = (event: DiagnosticEvent) => void
