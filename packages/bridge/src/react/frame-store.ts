import type { IdTokenClaims, SessionSnapshot, SessionStatus } from '@tessera/client'
import type { FrameClient } from '../frame/frame-client.js'

/** What `useFrameAuth` needs of a frame client: `createFrameClient`'s result. */
export type FrameAuthSource = Pick<
  FrameClient,
  'subscribe' | 'getSnapshot' | 'getToken' | 'fetch' | 'connect'
>

/**
 * The signed-in user as the shell's snapshot gives it: the ID token's claims without those of the
 * token itself (`iat`, `exp`, `nbf`, `jti`, `nonce`, `at_hash`, `c_hash`, `s_hash`), which change
 * at every refresh. So `user` keeps its identity across refreshes.
 */
export interface FrameUser {
  readonly iss: string
  /** The user's id. */
  readonly sub: string
  readonly aud: string | readonly string[]
  readonly sid?: string
  readonly name?: string
  readonly email?: string
  readonly [claim: string]: unknown
}

/** The session fields `useFrameAuth` reads; a new object only when one changes by value. */
export interface FrameAuthView {
  readonly isLoaded: boolean
  readonly isSignedIn: boolean | undefined
  readonly user: FrameUser | null
  readonly sessionId: string | null
  readonly locked: boolean
  readonly status: SessionStatus
}

const TOKEN_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti', 'nonce', 'at_hash', 'c_hash', 's_hash'])

function userOf(claims: Readonly<IdTokenClaims>): FrameUser {
  const user: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(claims)) if (!TOKEN_CLAIMS.has(k)) user[k] = v
  return Object.freeze(user) as unknown as FrameUser
}

export function viewOf(s: SessionSnapshot): FrameAuthView {
  const signedIn = s.isLoaded && s.isSignedIn
  return {
    isLoaded: s.isLoaded,
    isSignedIn: s.isLoaded ? signedIn : undefined,
    user: signedIn && s.user ? userOf(s.user) : null,
    sessionId: signedIn ? s.sessionId : null,
    locked: s.locked,
    status: s.status,
  }
}

/** The view of the server render and of hydration: nothing known yet, as before the handshake. */
export const SERVER_VIEW: FrameAuthView = Object.freeze({
  isLoaded: false,
  isSignedIn: undefined,
  user: null,
  sessionId: null,
  locked: false,
  status: 'loading',
})

/**
 * A view of the frame client's snapshot that changes only when the fields it picks change by
 * value: the approach of `@tessera/react`'s derived store (not imported: the bridge does not
 * depend on `@tessera/react`, and that store is typed for a `TesseraClient`). One instance per
 * frame client, shared by every component, so all of them see the very same object, the shape
 * `useSyncExternalStore` wants. The stable `getToken` and `fetch` live here too.
 */
export class FrameAuthStore {
  readonly #frame: FrameAuthSource
  #source: SessionSnapshot | undefined
  #value: FrameAuthView | undefined

  constructor(frame: FrameAuthSource) {
    this.#frame = frame
  }

  subscribe = (listener: () => void): (() => void) => this.#frame.subscribe(listener)

  get = (): FrameAuthView => {
    const source = this.#frame.getSnapshot()
    if (source === this.#source && this.#value !== undefined) return this.#value
    const next = viewOf(source) as { -readonly [K in keyof FrameAuthView]: FrameAuthView[K] }
    this.#source = source
    this.#value = this.#value === undefined ? Object.freeze(next) : keepSame(this.#value, next)
    return this.#value
  }

  getServer = (): FrameAuthView => SERVER_VIEW

  getToken: FrameAuthSource['getToken'] = (o) => this.#frame.getToken(o)

  fetch: FrameAuthSource['fetch'] = (input, init) => this.#frame.fetch(input, init)

  connect = (): Promise<void> => this.#frame.connect()
}

const stores = new WeakMap<FrameAuthSource, FrameAuthStore>()

/** The one store of `frame`. */
export function storeOf(frame: FrameAuthSource): FrameAuthStore {
  let s = stores.get(frame)
  if (!s) {
    s = new FrameAuthStore(frame)
    stores.set(frame, s)
  }
  return s
}

/** `prev` when no field changed; else `next` holding `prev`'s values for the unchanged fields. */
function keepSame<T extends object>(prev: T, next: T): T {
  let changed = false
  for (const k of Object.keys(next) as (keyof T)[]) {
    if (sameValue(prev[k], next[k])) next[k] = prev[k]
    else changed = true
  }
  return changed ? Object.freeze(next) : prev
}

/** Primitives by `Object.is`, arrays and plain objects (ID token claims) by their contents. */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
      return false
  }
  return true
}
