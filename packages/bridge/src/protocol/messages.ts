import type { SessionSnapshot } from '@tessera/client'
import type { BridgeErrorCode } from '../errors.js'

/** The protocol version. A message with any other `v` is ignored (no reply). */
export const PROTOCOL_VERSION = 1

/** The marker every message carries, so the bridge never mistakes another library's messages. */
export const PROTOCOL_TAG = 'tessera-bridge'

/** Frame -> shell, on the window (or through `ReactNativeWebView.postMessage`): no secret. */
export interface HelloMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'hello'
  /** Random, names this handshake; the welcome must echo it. */
  id: string
}

/** Shell -> frame, to the requesting window and origin only, with the dedicated port. */
export interface WelcomeMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'welcome'
  id: string
  /** The audiences this frame may ask tokens for. */
  audiences: string[]
  snapshot: FrameSnapshot
}

/** Frame -> shell on the port: a token for `audience` (and optionally a narrower scope). */
export interface TokenRequestMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'token-request'
  id: string
  audience: string
  scope?: string
  /** The API refused the last token this frame got for the audience (401 invalid_token). */
  refused?: true
}

/** Shell -> frame on the port. */
export interface TokenMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'token'
  id: string
  audience: string
  token: string
}

/** Shell -> frame on the port: a token request was not answered with a token. */
export interface ErrorMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'error'
  id: string
  code: ShellErrorCode
  message: string
}

/** Shell -> frame on the port: the session changed. */
export interface SessionMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'session'
  id: string
  snapshot: FrameSnapshot
}

/** Frame -> shell on the port: the frame's document is going away. */
export interface ByeMessage {
  tessera: typeof PROTOCOL_TAG
  v: typeof PROTOCOL_VERSION
  type: 'bye'
  id: string
}

export type ShellErrorCode = Extract<
  BridgeErrorCode,
  | 'audience_not_allowed'
  | 'scope_not_allowed'
  | 'signed_out'
  | 'locked'
  | 'unavailable'
  | 'rejected'
>

/** What a frame sees of the session: the core's snapshot without `returnTo` (a shell URL). */
export type FrameSnapshot = SessionSnapshot

export type FrameToShell = HelloMessage | TokenRequestMessage | ByeMessage
export type ShellToFrame = WelcomeMessage | TokenMessage | ErrorMessage | SessionMessage
export type BridgeMessage = FrameToShell | ShellToFrame

type Check = (v: unknown) => boolean

const ID = /^[A-Za-z0-9_-]{8,64}$/
const isId: Check = (v) => typeof v === 'string' && ID.test(v)
const isAudience: Check = (v) => {
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) return false
  try {
    const u = new URL(v)
    return u.protocol === 'https:' || u.protocol === 'http:'
  } catch {
    return false
  }
}
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/
const isScope: Check = (v) => typeof v === 'string' && v.length <= 1024 && SCOPE.test(v)
const isTrue: Check = (v) => v === true
const isString: Check = (v) => typeof v === 'string'
const isToken: Check = (v) => typeof v === 'string' && v.length > 0 && v.length <= 16_384
const isMessageText: Check = (v) => typeof v === 'string' && v.length <= 500
const SHELL_ERRORS: ReadonlySet<unknown> = new Set<ShellErrorCode>([
  'audience_not_allowed',
  'scope_not_allowed',
  'signed_out',
  'locked',
  'unavailable',
  'rejected',
])
const isShellError: Check = (v) => SHELL_ERRORS.has(v)
const isAudienceList: Check = (v) => Array.isArray(v) && v.length <= 64 && v.every(isAudience)

const STATUSES: ReadonlySet<unknown> = new Set([
  'loading',
  'signed-out',
  'pending',
  'signed-in',
  'refreshing',
  'offline',
])
const REASONS: ReadonlySet<unknown> = new Set([
  null,
  'initial',
  'sign_out',
  'other_tab',
  'session_expired',
  'session_revoked',
  'refresh_reused',
  'login_required',
  'idle_timeout',
])
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  Object.getPrototypeOf(v) === Object.prototype
const nullOr =
  (c: Check): Check =>
  (v) =>
    v === null || c(v)
const isTime: Check = (n) => typeof n === 'number' && Number.isFinite(n)
const isSnapshot: Check = (v) => {
  if (!isPlainObject(v)) return false
  return exactly(v, {
    status: (s) => STATUSES.has(s),
    isLoaded: (b) => typeof b === 'boolean',
    isSignedIn: (b) => typeof b === 'boolean',
    user: nullOr(isPlainObject),
    sessionId: nullOr(isString),
    sessionExpiresAt: nullOr(isTime),
    expireAt: nullOr(isTime),
    abandonAt: nullOr(isTime),
    lastActiveAt: nullOr(isTime),
    currentTask: nullOr(isString),
    reason: (r) => REASONS.has(r),
    error: nullOr(
      (e) =>
        isPlainObject(e) &&
        exactly(e, { code: isString, message: isMessageText }, new Set(['code', 'message'])),
    ),
    returnTo: (r) => r === null,
    locked: (b) => typeof b === 'boolean',
  })
}

/** Every key of `v` has a check in `fields` (no extra fields), every required key is there. */
function exactly(
  v: Record<string, unknown>,
  fields: Record<string, Check>,
  required: ReadonlySet<string> = new Set(Object.keys(fields)),
): boolean {
  for (const key of Object.keys(v)) {
    const check = fields[key]
    if (!check || !check(v[key])) return false
  }
  for (const key of required) if (!(key in v)) return false
  return true
}

interface Schema {
  fields: Record<string, Check>
  optional?: readonly string[]
}

const ENVELOPE: Record<string, Check> = {
  tessera: (v) => v === PROTOCOL_TAG,
  v: (v) => v === PROTOCOL_VERSION,
  type: isString,
  id: isId,
}

/**
 * The schema of every message: its fields and their checks. Anything else (a missing or extra
 * field, a wrong type, another version) fails validation and is ignored.
 */
export const SCHEMAS: Readonly<Record<BridgeMessage['type'], Schema>> = {
  hello: { fields: {} },
  welcome: { fields: { audiences: isAudienceList, snapshot: isSnapshot } },
  'token-request': {
    fields: { audience: isAudience, scope: isScope, refused: isTrue },
    optional: ['scope', 'refused'],
  },
  token: { fields: { audience: isAudience, token: isToken } },
  error: { fields: { code: isShellError, message: isMessageText } },
  session: { fields: { snapshot: isSnapshot } },
  bye: { fields: {} },
}

/**
 * `data` as a message of one of `types`, or null when it is not exactly that: the envelope
 * (`tessera`, `v`, `type`, `id`) and the type's fields, no more, each with the right shape.
 */
export function parseMessage<T extends BridgeMessage['type']>(
  data: unknown,
  types: readonly T[],
): Extract<BridgeMessage, { type: T }> | null {
  if (!isPlainObject(data)) return null
  const type = data.type
  if (typeof type !== 'string' || !(types as readonly string[]).includes(type)) return null
  const schema = SCHEMAS[type as T]
  const fields = { ...ENVELOPE, ...schema.fields }
  const optional = new Set(schema.optional ?? [])
  const required = new Set(Object.keys(fields).filter((k) => !optional.has(k)))
  return exactly(data, fields, required)
    ? (data as unknown as Extract<BridgeMessage, { type: T }>)
    : null
}

/** The message envelope of this protocol version. */
export function envelope<T extends BridgeMessage['type']>(type: T, id: string) {
  return { tessera: PROTOCOL_TAG, v: PROTOCOL_VERSION, type, id } as const
}

/** The snapshot as frames see it: `returnTo` (a shell URL) stays in the shell. */
export function frameSnapshot(s: SessionSnapshot): FrameSnapshot {
  return {
    status: s.status,
    isLoaded: s.isLoaded,
    isSignedIn: s.isSignedIn,
    user: s.user ? { ...s.user } : null,
    sessionId: s.sessionId,
    sessionExpiresAt: s.sessionExpiresAt,
    expireAt: s.expireAt,
    abandonAt: s.abandonAt,
    lastActiveAt: s.lastActiveAt,
    currentTask: s.currentTask,
    reason: s.reason,
    error: s.error ? { code: s.error.code, message: s.error.message.slice(0, 500) } : null,
    returnTo: null,
    locked: s.locked,
  }
}
