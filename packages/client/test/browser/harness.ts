/**
 * The test page's script, bundled for Chromium with esbuild: a client with the browser adapters
 * (IndexedDB storage, Web Locks + BroadcastChannel, browser lifecycle), exposed on `window` for
 * the test to drive. `?nolocks=1` hides Web Locks and BroadcastChannel so the localStorage
 * fallback runs. The clock can be shifted to make tokens stale without waiting.
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
  type Clock,
  type DiagnosticEvent,
  type TesseraClient,
} from '../../src/index.js'
import { browserDpop } from '../../src/dpop/index.js'
import { storageConformance } from '../storage-conformance.js'

interface HarnessConfig {
  issuer: string
  clientId: string
  apiA: string
  autoRefresh: boolean
  refreshTokenDelivery?: 'body' | 'cookie'
  /** DPoP with `browserDpop()`. */
  dpop?: boolean
}

declare global {
  interface Window {
    __CONFIG: HarnessConfig
    __shift: number
    __events: DiagnosticEvent[]
    __callback: Promise<string>
    tessera: TesseraClient
    __conformance: () => Promise<string[]>
    /** Every value in the client's IndexedDB database, as one JSON string. */
    __indexedDbDump: () => Promise<string>
    /** The DPoP key pairs `browserDpop()` keeps in IndexedDB: thumbprint and what export does. */
    __dpopKeys: () => Promise<DpopKeyInfo[]>
  }
}

interface DpopKeyInfo {
  jkt: string
  privateExtractable: boolean
  /** The error of exporting the private key (it must fail), or 'exported'. */
  privateExport: string
}

const noLocks = new URLSearchParams(location.search).get('nolocks') === '1'
if (noLocks) {
  Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true })
}

window.__shift = 0
window.__events = []
const clock: Clock = {
  now: () => Date.now() + window.__shift,
  setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  clearTimeout: (h) => window.clearTimeout(h as number),
}
const cfg = window.__CONFIG
const client = createTesseraClient({
  issuer: cfg.issuer,
  clientId: cfg.clientId,
  redirectUri: location.origin + '/callback',
  apis: [{ baseUrl: cfg.apiA, audience: cfg.apiA, scope: 'read' }],
  storage: indexedDbStorage(),
  tabs: browserTabSync({
    ...(noLocks
      ? {
          environment: {
            locks: undefined,
            BroadcastChannel: undefined,
            localStorage: window.localStorage,
            addEventListener: window.addEventListener.bind(window),
            removeEventListener: window.removeEventListener.bind(window),
          },
        }
      : {}),
  }),
  lifecycle: browserLifecycle(),
  clock,
  autoRefresh: cfg.autoRefresh,
  ...(cfg.refreshTokenDelivery ? { refreshTokenDelivery: cfg.refreshTokenDelivery } : {}),
  ...(cfg.dpop ? { dpop: browserDpop() } : {}),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
  onDiagnostic: (e) => window.__events.push(e),
})
window.tessera = client
window.__conformance = () =>
  storageConformance(() => indexedDbStorage({ databaseName: 'tessera-conformance' }))

window.__indexedDbDump = () =>
  new Promise<string>((resolve, reject) => {
    const open = indexedDB.open('tessera')
    open.onerror = () => reject(new Error('cannot open IndexedDB'))
    open.onsuccess = () => {
      const db = open.result
      if (!db.objectStoreNames.contains('kv')) return resolve('[]')
      const all = db.transaction('kv').objectStore('kv').getAll()
      all.onsuccess = () => resolve(JSON.stringify(all.result))
      all.onerror = () => reject(new Error('cannot read IndexedDB'))
    }
  })

window.__dpopKeys = async () => {
  const pairs = await new Promise<CryptoKeyPair[]>((resolve, reject) => {
    const open = indexedDB.open('tessera-dpop')
    open.onerror = () => reject(new Error('cannot open IndexedDB'))
    open.onsuccess = () => {
      const db = open.result
      if (!db.objectStoreNames.contains('keys')) return resolve([])
      const all = db.transaction('keys').objectStore('keys').getAll()
      all.onsuccess = () => resolve(all.result as CryptoKeyPair[])
      all.onerror = () => reject(new Error('cannot read IndexedDB'))
    }
  })
  const b64u = (b: ArrayBuffer) =>
    btoa(String.fromCharCode(...new Uint8Array(b)))
      .replace(/\+/g, '-')
      .replace(/\//g, '_')
      .replace(/=+$/, '')
  return Promise.all(
    pairs.map(async (pair) => {
      const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey)
      const json = JSON.stringify({ crv, kty, x, y }) // RFC 7638: required members, sorted
      const jkt = b64u(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(json)))
      const privateExport = await crypto.subtle.exportKey('jwk', pair.privateKey).then(
        () => 'exported',
        (err: Error) => err.name,
      )
      return { jkt, privateExtractable: pair.privateKey.extractable, privateExport }
    }),
  )
}

window.__callback = client.isRedirectCallback(location.href)
  ? client.handleRedirectCallback().then(
      () => {
        history.replaceState(null, '', '/')
        return 'ok'
      },
      (err: Error) => `error: ${err.message}`,
    )
  : Promise.resolve('none')
