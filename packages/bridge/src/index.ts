/**
 * `@tessera/bridge`: one sign-in for a shell and its micro frontends. The shell holds the
 * session (the only refresh token); frames on other origins ask it for short-lived access tokens,
 * each for the audiences its origin is registered for, over a checked postMessage protocol.
 * React Native WebView hosts are in `@tessera/bridge/webview-host`.
 *
 * @example
 * // shell
 * import { createShellBridge } from '@tessera/bridge'
 * createShellBridge({
 *   client,
 *   frames: { 'https://orders.example.com': { audiences: ['https://orders-api.example.com'] } },
 * })
 * // frame (https://orders.example.com)
 * import { createFrameClient } from '@tessera/bridge'
 * const frame = createFrameClient({ shellOrigin: 'https://app.example.com' })
 * const token = await frame.getToken({ audience: 'https://orders-api.example.com' })
 */
export { BridgeError, isBridgeError, type BridgeErrorCode } from './errors.js'
export {
  createShellBridge,
  type ShellBridge,
  type ShellBridgeOptions,
  type ShellWindow,
} from './shell/shell-bridge.js'
export {
  BridgeHost,
  type HostConnection,
  type BridgeEvent,
  type BridgeHostOptions,
  type DisconnectReason,
  type FrameRegistration,
  type FrameRegistry,
  type IgnoredReason,
  type ShellSession,
} from './shell/bridge-host.js'
export {
  createFrameClient,
  FrameClient,
  type FrameApi,
  type FrameClientOptions,
  type FrameGetTokenOptions,
} from './frame/frame-client.js'
export type { ReactNativeWebViewBridge } from './frame/transports.js'
export {
  parseMessage,
  PROTOCOL_TAG,
  PROTOCOL_VERSION,
  SCHEMAS,
  type BridgeMessage,
  type FrameSnapshot,
  type FrameToShell,
  type ShellErrorCode,
  type ShellToFrame,
} from './protocol/messages.js'
