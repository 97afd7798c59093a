import type { SessionSnapshot } from '@tessera/client'
import { BridgeError } from '../errors.js'
import {
  envelope,
  frameSnapshot,
  parseMessage,
  type FrameSnapshot,
  type ShellErrorCode,
  type ShellToFrame,
  type WelcomeMessage,
} from '../protocol/messages.js'

/**
 * What the bridge needs of the shell's session: a `TesseraClient` satisfies it as it is (the
 * React Native package passes its own client the same way).
 */
export interface ShellSession {
  getToken(o: { audience?: string; scope?: string }): Promise<string>
  getSnapshot(): SessionSnapshot
  subscribe(listener: () => void): () => void
  invalidateToken(accessToken: string): void
}

/** What one frame origin may ask for. */
export interface FrameRegistration {
  /** Audiences (APIs) the frame may get access tokens for. At least one. */
  audiences: readonly string[]
  /**
   * Scopes the frame may name in `getToken({ scope })`. Default none: the frame gets tokens with
   * the scope the shell's client has configured for the audience, and cannot narrow or name one.
   */
  scopes?: readonly string[]
}

/**
 * The frames the shell serves, by exact origin (`https://orders.example.com`, scheme, host and
 * port, no path, no wildcard). A page on any other origin gets no reply at all.
 */
export type FrameRegistry = Readonly<Record<string, FrameRegistration>>

/** Why a connection ended. */
export type DisconnectReason = 'replaced' | 'bye' | 'window_gone' | 'origin_changed' | 'closed'

/** Why a message was ignored (never answered). */
export type IgnoredReason =
  'origin_not_registered' | 'source_not_a_frame' | 'invalid_message' | 'duplicate_hello'

/**
 * What the bridge did, for diagnostics and tests. Events name origins, audiences and codes, never
 * a token.
 */
export type BridgeEvent =
  | { type: 'connected'; origin: string }
  | { type: 'disconnected'; origin: string; reason: DisconnectReason }
  | { type: 'ignored'; origin: string; reason: IgnoredReason }
  | { type: 'token'; origin: string; audience: string }
  | { type: 'refused'; origin: string; audience: string; code: ShellErrorCode }

export interface BridgeHostOptions {
  /** The shell's `TesseraClient`: the only holder of the refresh token. */
  client: ShellSession
  /** Which origins may connect, and what each may ask for. Checked when the host is built. */
  frames: FrameRegistry
  /** Receives {@link BridgeEvent}s. Nothing is logged otherwise. */
  onEvent?: (event: BridgeEvent) => void
}

/**
 * The platform-neutral shell side: the registry, the session, and the connections to frames over
 * any transport that can send a message to exactly one frame (a `MessagePort`, a WebView's
 * `postMessage`). `createShellBridge` (iframes) and `createWebViewHost` (React Native WebViews)
 * are built on it.
 */
export class BridgeHost {
  readonly #client: ShellSession
  readonly #frames: ReadonlyMap<string, Required<FrameRegistration>>
  readonly #onEvent: (event: BridgeEvent) => void
  readonly #connections = new Set<HostConnection>()
  #unsubscribe: (() => void) | undefined
  #lastPushed = ''
  #closed = false

  constructor(o: BridgeHostOptions) {
    if (!o || typeof o.client?.getToken !== 'function' || typeof o.client.subscribe !== 'function')
      throw new BridgeError('configuration', 'client must be a TesseraClient')
    this.#client = o.client
    this.#frames = checkRegistry(o.frames)
    this.#onEvent = o.onEvent ?? (() => {})
  }

  /** The registration of `origin` (exact match), if any. */
  registration(origin: string): Readonly<Required<FrameRegistration>> | undefined {
    return this.#frames.get(origin)
  }

  /** Connections currently open. */
  get connectionCount(): number {
    return this.#connections.size
  }

  emit(event: BridgeEvent): void {
    try {
      this.#onEvent(event)
    } catch {
      // a failing listener must not break the protocol
    }
  }

  /**
   * Opens a connection for a frame of `origin` that `send` reaches, and nothing else; null (and
   * an `ignored` event) when the origin is not registered.
   */
  open(origin: string, send: (m: ShellToFrame) => void): HostConnection | null {
    const entry = this.#frames.get(origin)
    if (!entry || this.#closed) {
      this.emit({ type: 'ignored', origin, reason: 'origin_not_registered' })
      return null
    }
    const c = new HostConnection(this, this.#client, origin, entry, send)
    this.#connections.add(c)
    this.#unsubscribe ??= this.#client.subscribe(() => this.#push())
    this.emit({ type: 'connected', origin })
    return c
  }

  /** @internal */
  dropped(c: HostConnection): void {
    this.#connections.delete(c)
    if (this.#connections.size === 0 && this.#unsubscribe) {
      this.#unsubscribe()
      this.#unsubscribe = undefined
      this.#lastPushed = ''
    }
  }

  snapshot(): FrameSnapshot {
    return frameSnapshot(this.#client.getSnapshot())
  }

  #push(): void {
    const snapshot = this.snapshot()
    const key = JSON.stringify(snapshot)
    if (key === this.#lastPushed) return
    this.#lastPushed = key
    for (const c of [...this.#connections]) c.push(snapshot)
  }

  /** Closes every connection; the host answers nothing afterwards. */
  close(): void {
    this.#closed = true
    for (const c of [...this.#connections]) c.close('closed')
  }
}

/** One frame's connection: answers its token requests and pushes session changes to it. */
export class HostConnection {
  readonly origin: string
  readonly #host: BridgeHost
  readonly #client: ShellSession
  readonly #entry: Required<FrameRegistration>
  readonly #send: (m: ShellToFrame) => void
  /** The last token handed to this frame per audience and scope, for `refused`. */
  readonly #handed = new Map<string, string>()
  #open = true
  /** Checked before anything is sent: false once the frame's window or origin changed. */
  alive: () => boolean = () => true
  /** Called once when the connection closes, to release the transport. */
  onClose: (() => void) | undefined

  constructor(
    host: BridgeHost,
    client: ShellSession,
    origin: string,
    entry: Required<FrameRegistration>,
    send: (m: ShellToFrame) => void,
  ) {
    this.#host = host
    this.#client = client
    this.origin = origin
    this.#entry = entry
    this.#send = send
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** The answer to the frame's hello `id`. */
  welcome(id: string): WelcomeMessage {
    return {
      ...envelope('welcome', id),
      audiences: [...this.#entry.audiences],
      snapshot: this.#host.snapshot(),
    }
  }

  /** A message from the frame: a token request or a goodbye; anything else is ignored. */
  receive(data: unknown): void {
    if (!this.#check()) return
    const m = parseMessage(data, ['token-request', 'bye'])
    if (!m) {
      this.#host.emit({ type: 'ignored', origin: this.origin, reason: 'invalid_message' })
      return
    }
    if (m.type === 'bye') return this.close('bye')
    void this.#answer(m.id, m.audience, m.scope, m.refused === true)
  }

  push(snapshot: FrameSnapshot): void {
    if (!this.#check()) return
    this.#post({ ...envelope('session', 'session-push'), snapshot })
  }

  close(reason: DisconnectReason): void {
    if (!this.#open) return
    this.#open = false
    this.#handed.clear()
    this.#host.dropped(this)
    this.#host.emit({ type: 'disconnected', origin: this.origin, reason })
    this.onClose?.()
  }

  #check(): boolean {
    if (!this.#open) return false
    if (this.alive()) return true
    this.close('window_gone')
    return false
  }

  #post(m: ShellToFrame): void {
    try {
      this.#send(m)
    } catch {
      this.close('window_gone')
    }
  }

  async #answer(id: string, audience: string, scope: string | undefined, refused: boolean) {
    const refuse = (code: ShellErrorCode, message: string) => {
      this.#host.emit({ type: 'refused', origin: this.origin, audience, code })
      if (this.#check()) this.#post({ ...envelope('error', id), code, message })
    }
    if (!this.#entry.audiences.includes(audience))
      return refuse('audience_not_allowed', `this frame may not get tokens for ${audience}`)
    if (scope !== undefined && !scope.split(' ').every((s) => this.#entry.scopes.includes(s)))
      return refuse('scope_not_allowed', `this frame may not ask for the scope ${scope}`)
    const key = scope === undefined ? audience : `${audience} ${scope}`
    if (refused) {
      const last = this.#handed.get(key)
      if (last !== undefined) this.#client.invalidateToken(last)
    }
    let token: string
    try {
      token = await this.#client.getToken(scope === undefined ? { audience } : { audience, scope })
    } catch (err) {
      const code = shellErrorCode(err)
      return refuse(code, MESSAGES[code])
    }
    if (!this.#check()) return
    this.#handed.set(key, token)
    this.#host.emit({ type: 'token', origin: this.origin, audience })
    this.#post({ ...envelope('token', id), audience, token })
  }
}

const MESSAGES: Record<ShellErrorCode, string> = {
  audience_not_allowed: 'audience not allowed',
  scope_not_allowed: 'scope not allowed',
  signed_out: 'the shell has no session: sign in',
  locked: 'the shell session is locked',
  unavailable: 'the shell could not get a token now; try again later',
  rejected: 'the authorization server refused the token request',
}

/** The frame-facing code of an error of the shell's client (by its stable `code`). */
function shellErrorCode(err: unknown): ShellErrorCode {
  const code = (err as { code?: unknown } | null)?.code
  switch (code) {
    case 'login_required':
    case 'session_expired':
    case 'session_revoked':
    case 'refresh_reused':
    case 'aborted':
      return 'signed_out'
    case 'locked':
      return 'locked'
    case 'request_rejected':
    case 'invalid_grant':
    case 'configuration':
      return 'rejected'
    default:
      return 'unavailable'
  }
}

function checkRegistry(frames: FrameRegistry): Map<string, Required<FrameRegistration>> {
  if (typeof frames !== 'object' || frames === null)
    throw new BridgeError('configuration', 'frames must map origins to registrations')
  const out = new Map<string, Required<FrameRegistration>>()
  for (const [origin, reg] of Object.entries(frames)) {
    let parsed: URL
    try {
      parsed = new URL(origin)
    } catch {
      throw new BridgeError('configuration', `frames: ${origin} is not an origin`)
    }
    if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.origin !== origin) {
      throw new BridgeError(
        'configuration',
        `frames: ${origin} must be an exact origin (scheme://host[:port], no path or trailing slash)`,
      )
    }
    const audiences: readonly unknown[] | undefined = reg?.audiences
    if (!Array.isArray(audiences) || audiences.length === 0)
      throw new BridgeError('configuration', `frames[${origin}].audiences must list at least one`)
    for (const a of audiences) {
      if (typeof a !== 'string' || a.length === 0 || a.includes('*'))
        throw new BridgeError(
          'configuration',
          `frames[${origin}].audiences: ${String(a)} is invalid`,
        )
    }
    const scopes: readonly unknown[] = reg.scopes ?? []
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || /\s/.test(s) || !s))
      throw new BridgeError('configuration', `frames[${origin}].scopes must be single scope names`)
    out.set(origin, { audiences: [...(audiences as string[])], scopes: [...(scopes as string[])] })
  }
  return out
}
