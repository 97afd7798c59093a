/**
 * A micro frontend page of the browser tests: a frame client exposed on `window`, every message
 * the window receives recorded (to prove what never arrives), and the session statuses it saw.
 */
import { createFrameClient, type FrameClient, type FrameClientOptions } from '../../src/index.js'

declare global {
  interface Window {
    frame: FrameClient
    /** For tests that need a second client with other options. */
    __createFrameClient: typeof createFrameClient
    /** Everything that reached this window as a message event (data, origin, ports). */
    __received: { data: unknown; origin: string; ports: number }[]
    __statuses: string[]
    /** Error code (or 'ok') of a call, for page.evaluate. */
    __code: (p: Promise<unknown>) => Promise<string>
  }
}

interface FrameConfig {
  shellOrigin?: string
  webView?: boolean
  apis: { baseUrl: string; audience: string }[]
  handshakeTimeoutMs?: number
}

const cfg = (window as unknown as { __CONFIG: FrameConfig }).__CONFIG
window.__received = []
const record = (e: Event) => {
  const m = e as MessageEvent
  window.__received.push({ data: m.data as unknown, origin: m.origin, ports: m.ports.length })
}
window.addEventListener('message', record)
document.addEventListener('message', record)
const common = {
  apis: cfg.apis,
  ...(cfg.handshakeTimeoutMs ? { handshakeTimeoutMs: cfg.handshakeTimeoutMs } : {}),
}
const options: FrameClientOptions = cfg.webView
  ? { ...common, shell: 'react-native-webview' }
  : { ...common, shellOrigin: cfg.shellOrigin! }
window.frame = createFrameClient(options)
window.__createFrameClient = createFrameClient
window.__statuses = []
window.frame.subscribe(() => window.__statuses.push(window.frame.getSnapshot().status))
window.__code = (p) =>
  p.then(
    () => 'ok',
    (err: { code?: string; name?: string; message?: string }) =>
      `${err.name}:${err.code}:${err.message}`,
  )
