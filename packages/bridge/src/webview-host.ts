/**
 * `@tessera/bridge/webview-host`: the shell side for pages in a React Native WebView, as plain
 * functions over `react-native-webview`'s `onMessage` (in) and `postMessage` (out). No React
 * Native import: `@tessera/react-native` wraps it in a component.
 *
 * @example
 * import { createWebViewHost } from '@tessera/bridge/webview-host'
 * const host = createWebViewHost({
 *   client,
 *   frames: { 'https://orders.example.com': { audiences: ['https://orders-api.example.com'] } },
 *   postMessage: (data) => webViewRef.current?.postMessage(data),
 * })
 * // <WebView ref={webViewRef} source={{ uri: 'https://orders.example.com/' }}
 * //   onMessage={host.onMessage}
 * //   onLoadStart={(e) => host.onNavigation(e.nativeEvent.url)}
 * //   onNavigationStateChange={(s) => host.onNavigation(s.url)} />
 */
import { parseMessage, PROTOCOL_TAG } from './protocol/messages.js'
import { BridgeHost, type BridgeHostOptions, type HostConnection } from './shell/bridge-host.js'

export type {
  BridgeEvent,
  FrameRegistration,
  FrameRegistry,
  ShellSession,
} from './shell/bridge-host.js'

export interface WebViewHostOptions extends BridgeHostOptions {
  /**
   * Sends a string to the page: `(data) => webViewRef.current?.postMessage(data)`. The host
   * never builds script for `injectJavaScript`: tokens travel only as message data.
   */
  postMessage: (data: string) => void
}

/** The `onMessage` event of react-native-webview, or the part of it the host reads. */
export interface WebViewMessageEvent {
  nativeEvent: { data: string; url: string }
}

export interface WebViewHost {
  /** Pass as the WebView's `onMessage`. */
  onMessage: (event: WebViewMessageEvent) => void
  /**
   * Pass the page's URL on every navigation (`onLoadStart`, `onNavigationStateChange`): a URL of
   * another origin ends the connection before anything else is sent.
   */
  onNavigation: (url: string) => void
  /** Whether a page is connected. */
  readonly connected: boolean
  /** Ends the connection; nothing is sent afterwards. */
  close(): void
}

const MAX_MESSAGE = 65_536

/**
 * The host side of the bridge for one WebView. The page's origin is the origin of the URL the
 * WebView reports with each message, compared exactly with the registry (never a prefix); a
 * handshake from a registered origin opens the connection, and every later message must come
 * from that same origin. Messages are JSON strings, validated like the iframe protocol's.
 */
export function createWebViewHost(o: WebViewHostOptions): WebViewHost {
  if (typeof o?.postMessage !== 'function') {
    throw new TypeError('createWebViewHost: postMessage must be a function')
  }
  const host = new BridgeHost(o)
  let conn: HostConnection | undefined
  let hello: string | undefined
  let currentOrigin: string | undefined
  let closed = false

  const onNavigation = (url: string) => {
    currentOrigin = originOf(url)
    if (conn?.isOpen && conn.origin !== currentOrigin) conn.close('origin_changed')
  }

  const onMessage = (event: WebViewMessageEvent) => {
    if (closed) return
    const raw = event?.nativeEvent?.data
    const origin = originOf(event?.nativeEvent?.url)
    if (typeof raw !== 'string' || raw.length > MAX_MESSAGE) return
    let data: unknown
    try {
      data = JSON.parse(raw)
    } catch {
      return
    }
    if (
      typeof data !== 'object' ||
      data === null ||
      (data as { tessera?: unknown }).tessera !== PROTOCOL_TAG
    )
      return
    onNavigation(event.nativeEvent.url)
    const h = parseMessage(data, ['hello'])
    if (!h) {
      if (conn?.isOpen) return conn.receive(data)
      return host.emit({ type: 'ignored', origin, reason: 'invalid_message' })
    }
    if (!host.registration(origin))
      return host.emit({ type: 'ignored', origin, reason: 'origin_not_registered' })
    if (conn?.isOpen && hello === h.id)
      return host.emit({ type: 'ignored', origin, reason: 'duplicate_hello' })
    if (conn?.isOpen) conn.close('replaced')
    const next = host.open(origin, (m) => o.postMessage(JSON.stringify(m)))
    if (!next) return
    next.alive = () => !closed && currentOrigin === next.origin
    conn = next
    hello = h.id
    o.postMessage(JSON.stringify(next.welcome(h.id)))
  }

  return {
    onMessage,
    onNavigation,
    get connected() {
      return conn?.isOpen === true
    },
    close() {
      closed = true
      host.close()
    },
  }
}

function originOf(url: unknown): string {
  if (typeof url !== 'string') return 'null'
  try {
    return new URL(url).origin
  } catch {
    return 'null'
  }
}
