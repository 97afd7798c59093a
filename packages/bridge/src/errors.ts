/**
 * The stable codes of {@link BridgeError}.
 *
 * - `shell_unavailable`: no shell answered the handshake in time (the page is not inside a shell,
 *   the shell's origin is not the configured one, or the shell did not register this origin).
 * - `timeout`: the shell did not answer a request in time.
 * - `disconnected`: the connection to the shell was closed (the frame client or the shell bridge
 *   was disposed, or the shell replaced this frame's connection).
 * - `audience_not_allowed`: the shell's registry does not allow this frame that audience.
 * - `scope_not_allowed`: the registry does not allow this frame that scope.
 * - `signed_out`: the shell has no session; sign in in the shell.
 * - `locked`: the shell's session is locked by its idle timeout.
 * - `unavailable`: the shell could not get a token for a transient reason (network, server,
 *   rate limit, storage); try again later.
 * - `rejected`: the authorization server refused the token request (e.g. the shell's client is
 *   not allowed that audience at the server).
 * - `configuration`: bad options (thrown when the client or bridge is built).
 */
export type BridgeErrorCode =
  | 'shell_unavailable'
  | 'timeout'
  | 'disconnected'
  | 'audience_not_allowed'
  | 'scope_not_allowed'
  | 'signed_out'
  | 'locked'
  | 'unavailable'
  | 'rejected'
  | 'configuration'

/**
 * The one error class of `@tessera/bridge`, with a closed set of codes. Messages name the
 * audience or option and the reason; they never contain a token.
 *
 * @example
 * try {
 *   await frame.getToken({ audience: 'https://orders.example.com' })
 * } catch (err) {
 *   if (!(err instanceof BridgeError)) throw err
 *   switch (err.code) {
 *     case 'signed_out':
 *       showSignedOut()
 *       break
 *     case 'shell_unavailable':
 *       showStandaloneNotice()
 *   }
 * }
 */
export class BridgeError extends Error {
  override readonly name = 'BridgeError'
  readonly code: BridgeErrorCode

  constructor(code: BridgeErrorCode, message: string) {
    super(message)
    this.code = code
  }
}

/** Whether `err` is a BridgeError. */
export function isBridgeError(err: unknown): err is BridgeError {
  return err instanceof BridgeError
}
