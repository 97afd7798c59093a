import { parseMessage, PROTOCOL_TAG } from '../protocol/messages.js'
import { BridgeHost, type BridgeHostOptions, type HostConnection } from './bridge-host.js'

/** The window the shell listens on: `window` in a browser. */
export interface ShellWindow {
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void
  removeEventListener(type: 'message', listener: (e: MessageEvent) => void): void
  /** The shell's own window (a `Window`'s `window`): frames are its children. */
  readonly window: object
}

export interface ShellBridgeOptions extends BridgeHostOptions {
  /** Default `window`. */
  window?: ShellWindow
}

/** The shell side of the bridge for iframes; see {@link createShellBridge}. */
export interface ShellBridge {
  /** Connections to frames currently open. */
  readonly connectionCount: number
  /** Stops listening and closes every connection. */
  close(): void
}

/**
 * The shell (host) side for iframes. It listens for handshakes on `window`; a handshake is
 * answered only when it comes from a registered origin (exact match) **and** from a direct child
 * frame of this window. The answer goes to that window and origin only (never `'*'`) and carries
 * a dedicated `MessagePort`; token requests and session pushes then travel on that port only.
 * A new handshake from the same window (a reload or navigation) replaces its connection.
 *
 * @example
 * import { createShellBridge } from '@tessera/bridge'
 * const bridge = createShellBridge({
 *   client, // the shell's TesseraClient
 *   frames: {
 *     'https://orders.example.com': { audiences: ['https://orders-api.example.com'] },
 *     'https://billing.example.com': { audiences: ['https://billing-api.example.com'] },
 *   },
 * })
 * @see https://html.spec.whatwg.org/multipage/web-messaging.html#authors (postMessage security)
 */
export function createShellBridge(o: ShellBridgeOptions): ShellBridge {
  const host = new BridgeHost(o)
  const target = o.window ?? (globalThis as unknown as { window: ShellWindow }).window
  const win = target.window
  const byWindow = new Map<object, { conn: HostConnection; hello: string; origin: string }>()

  const onMessage = (e: MessageEvent) => {
    const data: unknown = e.data
    // Other libraries' messages are none of our business; ours are checked and may be ignored.
    if (
      typeof data !== 'object' ||
      data === null ||
      (data as { tessera?: unknown }).tessera !== PROTOCOL_TAG
    )
      return
    const source = e.source
    const known = source ? byWindow.get(source) : undefined
    if (known && known.origin !== e.origin) {
      // The frame's window now shows another origin: its connection ends.
      known.conn.close('origin_changed')
    }
    const hello = parseMessage(data, ['hello'])
    if (!hello) return host.emit({ type: 'ignored', origin: e.origin, reason: 'invalid_message' })
    if (!host.registration(e.origin))
      return host.emit({ type: 'ignored', origin: e.origin, reason: 'origin_not_registered' })
    if (!isChildFrame(source, win))
      return host.emit({ type: 'ignored', origin: e.origin, reason: 'source_not_a_frame' })
    if (known?.conn.isOpen && known.hello === hello.id)
      return host.emit({ type: 'ignored', origin: e.origin, reason: 'duplicate_hello' })
    if (known?.conn.isOpen) known.conn.close('replaced')

    const channel = new MessageChannel()
    const port = channel.port1
    const conn = host.open(e.origin, (m) => port.postMessage(m))
    if (!conn) return
    const origin = e.origin
    conn.alive = () => !source.closed && source.parent === win
    byWindow.set(source, { conn, hello: hello.id, origin })
    port.onmessage = (ev: MessageEvent) => {
      if (conn.isOpen) conn.receive(ev.data)
      if (!conn.isOpen) port.close()
    }
    conn.onClose = () => {
      port.close()
      if (byWindow.get(source)?.conn === conn) byWindow.delete(source)
    }
    // To the requesting window and its exact origin: if the window has navigated elsewhere in
    // the meantime, the browser drops the message.
    source.postMessage(conn.welcome(hello.id), { targetOrigin: origin, transfer: [channel.port2] })
  }

  target.addEventListener('message', onMessage)
  return {
    get connectionCount() {
      return host.connectionCount
    },
    close() {
      target.removeEventListener('message', onMessage)
      host.close()
      byWindow.clear()
    },
  }
}

/** A window (not a port or worker) whose parent is `win`: an iframe of the shell's document. */
function isChildFrame(source: MessageEventSource | null, win: object): source is Window {
  if (!source || source === win) return false
  try {
    return (source as Window).parent === win && (source as Window).parent !== source
  } catch {
    return false
  }
}
