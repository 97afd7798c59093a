import { INITIAL_SNAPSHOT, saysInvalidToken, type SessionSnapshot } from '@tessera/client'
import { BridgeError } from '../errors.js'
import { randomId } from '../lib/random-id.js'
import {
  envelope,
  parseMessage,
  type ShellToFrame,
  type WelcomeMessage,
} from '../protocol/messages.js'
import { iframeTransport, webViewTransport, type Link, type Transport } from './transports.js'

/** An API of the frame: `fetch` adds its token to requests under `baseUrl`. */
export interface FrameApi {
  /** `https://orders-api.example.com` or with a path prefix (`https://example.com/orders`). */
  baseUrl: string
  /** The API's audience, as registered for this frame in the shell. */
  audience: string
}

interface CommonOptions {
  /** APIs for `fetch`. Default none (`fetch` then adds no token to any request). */
  apis?: readonly FrameApi[]
  /** Milliseconds to wait for the shell's answer to the handshake. Default 5000. */
  handshakeTimeoutMs?: number
  /** Milliseconds between handshake attempts until the shell answers. Default 100. */
  helloIntervalMs?: number
  /** Milliseconds to wait for the answer to a token request. Default 10000. */
  requestTimeoutMs?: number
  /** Default `window`. */
  window?: Window
}

/** Options of {@link createFrameClient}. */
export type FrameClientOptions = CommonOptions &
  (
    | {
        /** The shell's exact origin (`https://app.example.com`). The handshake goes there only. */
        shellOrigin: string
        shell?: undefined
      }
    | {
        /** The page runs in a React Native WebView whose host is `createWebViewHost`. */
        shell: 'react-native-webview'
        shellOrigin?: undefined
      }
  )

export interface FrameGetTokenOptions {
  /** The API's audience; it must be registered for this frame's origin in the shell. */
  audience: string
  /** A narrower scope, when the registry allows it. */
  scope?: string
}

interface Pending {
  resolve(token: string): void
  reject(err: BridgeError): void
  audience: string
  timer: ReturnType<typeof setTimeout>
}

/**
 * The frame (child) side: asks the shell for access tokens and follows the shell's session. It
 * holds no refresh token and caches no access token: each `getToken` asks the shell, whose cache
 * answers in well under a millisecond, so a sign-out in the shell leaves nothing behind here.
 */
export class FrameClient {
  readonly #transport: Transport
  readonly #apis: readonly FrameApi[]
  readonly #handshakeTimeoutMs: number
  readonly #helloIntervalMs: number
  readonly #requestTimeoutMs: number
  readonly #win: Window
  readonly #pending = new Map<string, Pending>()
  readonly #listeners = new Set<() => void>()
  #snapshot: SessionSnapshot = INITIAL_SNAPSHOT
  #link: Link | undefined
  #connecting: Promise<Link> | undefined
  #helloId: string | undefined
  #onWelcome: ((w: WelcomeMessage, port: MessagePort | undefined) => void) | undefined
  #audiences: readonly string[] = []
  #stopListening: () => void
  #disposed = false

  constructor(o: FrameClientOptions) {
    const win = o.window ?? (globalThis as unknown as { window: Window }).window
    if (!win) throw new BridgeError('configuration', 'createFrameClient needs a window')
    this.#win = win
    if (o.shell === 'react-native-webview') {
      this.#transport = webViewTransport(win)
    } else {
      this.#transport = iframeTransport(checkOrigin(o.shellOrigin), win)
    }
    this.#apis = (o.apis ?? []).map(checkApi)
    this.#handshakeTimeoutMs = positive(o.handshakeTimeoutMs, 5000, 'handshakeTimeoutMs')
    this.#helloIntervalMs = positive(o.helloIntervalMs, 100, 'helloIntervalMs')
    this.#requestTimeoutMs = positive(o.requestTimeoutMs, 10_000, 'requestTimeoutMs')
    this.#stopListening = this.#transport.listen((data, port) => this.#onWindowData(data, port))
    win.addEventListener('pagehide', this.#onPageHide)
  }

  /** The session as the shell last told it (`loading` until the handshake). */
  getSnapshot = (): SessionSnapshot => this.#snapshot

  /** Calls `listener` on each session change; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /** Audiences the shell allows this frame (known after the handshake). */
  get audiences(): readonly string[] {
    return this.#audiences
  }

  /**
   * Connects to the shell if not yet connected. Rejects with `shell_unavailable` when no shell
   * answers within `handshakeTimeoutMs`; a later call tries again.
   */
  connect(): Promise<void> {
    return this.#connect().then(() => {})
  }

  /**
   * An access token for `audience`, from the shell. Rejects with a {@link BridgeError}:
   * `audience_not_allowed` / `scope_not_allowed` (the registry refuses), `signed_out`, `locked`,
   * `unavailable`, `rejected`, `timeout`, `shell_unavailable`, `disconnected`.
   */
  getToken(o: FrameGetTokenOptions): Promise<string> {
    return this.#request(o, false)
  }

  /**
   * `fetch` with the token of the API the URL belongs to (same origin and a path prefix on a `/`
   * boundary of one of `apis`); other URLs go out untouched. A 401 whose `WWW-Authenticate` says
   * `error="invalid_token"` makes the shell refresh that token once, and the request is replayed
   * once; a second 401 is returned as is.
   */
  fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const api = this.#apis.find((a) => underBase(a.baseUrl, request.url))
    if (!api) return globalThis.fetch(request)
    const replay = request.clone()
    const token = await this.getToken({ audience: api.audience })
    const first = await globalThis.fetch(withBearer(request, token))
    if (first.status !== 401 || !saysInvalidToken(first.headers.get('www-authenticate')))
      return first
    const fresh = await this.#request({ audience: api.audience }, true)
    if (fresh === token) return first
    return globalThis.fetch(withBearer(replay, fresh))
  }

  /** Closes the connection; pending and later calls fail with `disconnected`. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#stopListening()
    this.#win.removeEventListener('pagehide', this.#onPageHide)
    this.#unlink(new BridgeError('disconnected', 'the frame client was disposed'))
  }

  #onPageHide = () => {
    this.#unlink(new BridgeError('disconnected', 'the page is going away'))
  }

  #unlink(err: BridgeError): void {
    const link = this.#link
    this.#link = undefined
    this.#connecting = undefined
    if (link) {
      try {
        link.send(envelope('bye', randomId()))
      } catch {
        // the shell is gone already
      }
      link.close()
    }
    for (const [id, p] of this.#pending) {
      clearTimeout(p.timer)
      this.#pending.delete(id)
      p.reject(err)
    }
  }

  #connect(): Promise<Link> {
    if (this.#disposed)
      return Promise.reject(new BridgeError('disconnected', 'the frame client was disposed'))
    if (this.#link) return Promise.resolve(this.#link)
    this.#connecting ??= new Promise<Link>((resolve, reject) => {
      const id = randomId()
      this.#helloId = id
      const started = Date.now()
      let timer: ReturnType<typeof setTimeout>
      const finish = () => {
        clearTimeout(timer)
        this.#onWelcome = undefined
      }
      const attempt = () => {
        if (this.#disposed) {
          finish()
          return reject(new BridgeError('disconnected', 'the frame client was disposed'))
        }
        if (Date.now() - started >= this.#handshakeTimeoutMs) {
          finish()
          this.#connecting = undefined
          return reject(
            new BridgeError(
              'shell_unavailable',
              `no shell answered the handshake within ${this.#handshakeTimeoutMs} ms`,
            ),
          )
        }
        this.#transport.hello(envelope('hello', id))
        timer = setTimeout(attempt, this.#helloIntervalMs)
      }
      this.#onWelcome = (w, port) => {
        const link = this.#transport.link(port, (d) => this.#onShellData(d))
        if (!link) return
        finish()
        this.#link = link
        this.#audiences = Object.freeze([...w.audiences])
        this.#setSnapshot(w.snapshot)
        resolve(link)
      }
      attempt()
    })
    return this.#connecting
  }

  #onWindowData(data: unknown, port: MessagePort | undefined): void {
    const m = parseMessage(data, ['welcome', 'token', 'error', 'session'])
    if (!m) return
    if (m.type === 'welcome') {
      if (m.id === this.#helloId && this.#onWelcome) this.#onWelcome(m, port)
      return
    }
    // Only the WebView transport carries the rest outside a port.
    if (this.#transport.kind === 'webview' && this.#link) this.#onShellMessage(m)
  }

  #onShellData(data: unknown): void {
    const m = parseMessage(data, ['token', 'error', 'session'])
    if (m) this.#onShellMessage(m)
  }

  #onShellMessage(m: Exclude<ShellToFrame, WelcomeMessage>): void {
    if (m.type === 'session') return this.#setSnapshot(m.snapshot)
    const p = this.#pending.get(m.id)
    if (!p) return
    this.#pending.delete(m.id)
    clearTimeout(p.timer)
    if (m.type === 'error') return p.reject(new BridgeError(m.code, `${p.audience}: ${m.message}`))
    if (m.audience !== p.audience)
      return p.reject(
        new BridgeError('rejected', `${p.audience}: the shell answered for another audience`),
      )
    p.resolve(m.token)
  }

  #setSnapshot(s: SessionSnapshot): void {
    if (JSON.stringify(s) === JSON.stringify(this.#snapshot)) return
    this.#snapshot = Object.freeze(s)
    for (const l of [...this.#listeners]) l()
  }

  async #request(o: FrameGetTokenOptions, refused: boolean): Promise<string> {
    const audience = o?.audience
    if (typeof audience !== 'string' || audience.length === 0)
      throw new BridgeError('configuration', 'getToken needs an audience')
    const link = await this.#connect()
    const id = randomId()
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new BridgeError(
            'timeout',
            `${audience}: the shell did not answer within ${this.#requestTimeoutMs} ms`,
          ),
        )
      }, this.#requestTimeoutMs)
      this.#pending.set(id, { resolve, reject, audience, timer })
      link.send({
        ...envelope('token-request', id),
        audience,
        ...(o.scope !== undefined ? { scope: o.scope } : {}),
        ...(refused ? { refused: true as const } : {}),
      })
    })
  }
}

/**
 * The frame side of the bridge: in an iframe, `createFrameClient({ shellOrigin })`; in a React
 * Native WebView whose host uses `@tessera/bridge/webview-host`,
 * `createFrameClient({ shell: 'react-native-webview' })`. Either way the frame learns that a shell
 * is there only from the shell's answer to its handshake.
 *
 * @example
 * import { createFrameClient } from '@tessera/bridge'
 * const frame = createFrameClient({
 *   shellOrigin: 'https://app.example.com',
 *   apis: [{ baseUrl: 'https://orders-api.example.com', audience: 'https://orders-api.example.com' }],
 * })
 * const res = await frame.fetch('https://orders-api.example.com/orders')
 */
export function createFrameClient(o: FrameClientOptions): FrameClient {
  return new FrameClient(o)
}

function checkOrigin(origin: unknown): string {
  if (typeof origin !== 'string' || origin === '*')
    throw new BridgeError('configuration', 'shellOrigin must be an exact origin, never *')
  let u: URL
  try {
    u = new URL(origin)
  } catch {
    throw new BridgeError('configuration', `shellOrigin: ${origin} is not an origin`)
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.origin !== origin)
    throw new BridgeError(
      'configuration',
      `shellOrigin: ${origin} must be an exact origin (scheme://host[:port], no path)`,
    )
  return origin
}

function checkApi(a: FrameApi): FrameApi {
  try {
    new URL(a.baseUrl)
  } catch {
    throw new BridgeError('configuration', `apis: ${String(a?.baseUrl)} is not a URL`)
  }
  if (typeof a.audience !== 'string' || !a.audience)
    throw new BridgeError('configuration', `apis: ${a.baseUrl} needs an audience`)
  return { baseUrl: a.baseUrl, audience: a.audience }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback
  if (!Number.isFinite(v) || v <= 0)
    throw new BridgeError('configuration', `${name} must be a positive number of milliseconds`)
  return v
}

function underBase(base: string, url: string): boolean {
  const b = new URL(base)
  const u = new URL(url)
  if (b.origin !== u.origin) return false
  const prefix = b.pathname.endsWith('/') ? b.pathname : b.pathname + '/'
  return u.pathname === b.pathname || u.pathname.startsWith(prefix)
}

function withBearer(req: Request, token: string): Request {
  const headers = new Headers(req.headers)
  headers.set('authorization', `Bearer ${token}`)
  return new Request(req, { headers })
}
