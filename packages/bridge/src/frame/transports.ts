import type { FrameToShell, HelloMessage } from '../protocol/messages.js'

/** How a frame reaches its shell: a parent window (iframe) or a React Native WebView. */
export interface Transport {
  readonly kind: 'iframe' | 'webview'
  /** Sends a handshake; it carries no secret. */
  hello(m: HelloMessage): void
  /**
   * Listens for what the shell sends outside the dedicated port (the welcome; for a WebView,
   * everything), after the transport's own origin and source checks. Returns a stop function.
   */
  listen(onData: (data: unknown, port: MessagePort | undefined) => void): () => void
  /** The link for messages after the welcome; null when the welcome is unusable. */
  link(port: MessagePort | undefined, onData: (data: unknown) => void): Link | null
}

export interface Link {
  send(m: FrameToShell): void
  close(): void
}

/**
 * The iframe transport: the handshake goes to the parent window with `targetOrigin` the shell's
 * exact origin; the welcome counts only from that window and origin and must bring one port, on
 * which everything else travels.
 */
export function iframeTransport(shellOrigin: string, win: Window): Transport {
  return {
    kind: 'iframe',
    hello(m) {
      if (win.parent === win) return // not framed: nobody to ask
      win.parent.postMessage(m, shellOrigin)
    },
    listen(onData) {
      const onMessage = (e: MessageEvent) => {
        if (e.origin !== shellOrigin || e.source !== win.parent || win.parent === win) return
        onData(e.data, e.ports.length === 1 ? e.ports[0] : undefined)
      }
      win.addEventListener('message', onMessage)
      return () => win.removeEventListener('message', onMessage)
    },
    link(port, onData) {
      if (!port) return null
      port.onmessage = (e: MessageEvent) => onData(e.data)
      return {
        send: (m) => port.postMessage(m),
        close: () => port.close(),
      }
    },
  }
}

/** What react-native-webview injects into the page. */
export interface ReactNativeWebViewBridge {
  postMessage(data: string): void
}

/**
 * The React Native WebView transport: messages go out as JSON strings through
 * `window.ReactNativeWebView.postMessage`; the native side's `postMessage` arrives as a `message`
 * event on `document` (Android) or `window` (iOS), so both are heard. Only events without a
 * source window count: a message from another frame or window has one.
 */
export function webViewTransport(win: Window): Transport {
  const native = () =>
    (win as Window & { ReactNativeWebView?: ReactNativeWebViewBridge }).ReactNativeWebView
  let onData: ((data: unknown, port: MessagePort | undefined) => void) | undefined
  const onMessage = (e: Event) => {
    const m = e as MessageEvent
    if (m.source !== null || typeof m.data !== 'string' || m.data.length > 65_536) return
    let data: unknown
    try {
      data = JSON.parse(m.data)
    } catch {
      return
    }
    onData?.(data, undefined)
  }
  return {
    kind: 'webview',
    hello(m) {
      native()?.postMessage(JSON.stringify(m))
    },
    listen(fn) {
      onData = fn
      win.addEventListener('message', onMessage)
      win.document.addEventListener('message', onMessage)
      return () => {
        onData = undefined
        win.removeEventListener('message', onMessage)
        win.document.removeEventListener('message', onMessage)
      }
    },
    link() {
      const bridge = native()
      if (!bridge) return null
      return { send: (m) => bridge.postMessage(JSON.stringify(m)), close: () => {} }
    },
  }
}
