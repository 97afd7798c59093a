/** Stable codes of {@link TesseraReactError}. */
export type TesseraReactErrorCode =
  /** A hook or component of @tessera/react was rendered outside `<TesseraProvider>`. */
  | 'missing_provider'
  /** `useApi(audience).fetch` got a URL that belongs to no API, or to another API. */
  | 'wrong_audience'
  /** A component got props that cannot work together (`<Protect signInRoute>` without
   * `navigate`). */
  | 'configuration'

/**
 * The one error class of @tessera/react. Errors of the session itself (no session, offline,
 * revoked ...) are the client's `TesseraClientError`, passed through unchanged.
 */
export class TesseraReactError extends Error {
  override readonly name = 'TesseraReactError'
  readonly code: TesseraReactErrorCode

  constructor(code: TesseraReactErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
