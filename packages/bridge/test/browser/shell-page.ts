/**
 * The shell page of the browser tests: a TesseraClient (IndexedDB, so the sign-in survives the
 * redirect) and the shell bridge, exposed on `window`. Its clock can be shifted to make tokens
 * stale; `__hold` holds the bridge's incoming messages until `__release()`, so a test can change
 * a frame's window before the bridge answers it.
 */
import {
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
  type Clock,
  type TesseraClient,
} from '@tessera/client'
import {
  createShellBridge,
  type BridgeEvent,
  type FrameRegistry,
  type ShellBridge,
} from '../../src/index.js'

interface ShellConfig {
  issuer: string
  clientId: string
  apis: { baseUrl: string; audience: string }[]
  frames: FrameRegistry
  idleLockSeconds?: number
}

declare global {
  interface Window {
    __shift: number
    __hold: boolean
    __release: () => void
    __held: () => number
    __bridgeEvents: BridgeEvent[]
    __callback: Promise<string>
    tessera: TesseraClient
    bridge: ShellBridge
    addFrame: (src: string, name: string) => Promise<void>
  }
}

window.__shift = 0
window.__hold = false
window.__bridgeEvents = []
const clock: Clock = {
  now: () => Date.now() + window.__shift,
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
}
const cfg = (window as unknown as { __CONFIG: ShellConfig }).__CONFIG
const client = createTesseraClient({
  issuer: cfg.issuer,
  clientId: cfg.clientId,
  redirectUri: location.origin + '/callback',
  apis: cfg.apis,
  storage: indexedDbStorage(),
  clock,
  autoRefresh: false,
  // Tests that sign in from a second tab of the shell set this flag on the shell's origin.
  ...(localStorage.getItem('tessera-test-tab-sync') === '1' ? { tabs: browserTabSync() } : {}),
  ...(cfg.idleLockSeconds
    ? { idleTimeout: { seconds: cfg.idleLockSeconds, action: 'lock' as const } }
    : {}),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})
window.tessera = client

const held: MessageEvent[] = []
let listener: ((e: MessageEvent) => void) | undefined
window.__held = () => held.length
window.__release = () => {
  window.__hold = false
  for (const e of held.splice(0)) listener?.(e)
}
window.bridge = createShellBridge({
  client,
  frames: cfg.frames,
  onEvent: (e) => window.__bridgeEvents.push(e),
  window: {
    window,
    addEventListener(_type, l) {
      listener = l
      window.addEventListener('message', (e) => (window.__hold ? held.push(e) : l(e)))
    },
    removeEventListener() {
      listener = undefined
    },
  },
})

window.addFrame = (src, name) =>
  new Promise<void>((resolve) => {
    const f = document.createElement('iframe')
    f.name = name
    f.src = src
    f.onload = () => resolve()
    document.body.append(f)
  })

window.__callback = client.isRedirectCallback(location.href)
  ? client.handleRedirectCallback().then(
      () => {
        history.replaceState(null, '', '/')
        return 'ok'
      },
      (err: Error) => `error: ${err.message}`,
    )
  : Promise.resolve('none')
