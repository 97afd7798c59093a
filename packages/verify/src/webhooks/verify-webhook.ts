import { createHmac, timingSafeEqual } from 'node:crypto'
import { TesseraVerifyError } from '../errors.js'
import { systemClock, type Clock } from '../lib/clock.js'

/** The event types a Tessera server sends. */
export type TesseraWebhookType =
  | 'session.ended'
  | 'session.revoked'
  | 'session.expired'
  | 'session.abandoned'
  | 'session.removed'
  | 'session.replaced'
  | 'session.reuse_detected'

/** The JSON body of a Tessera webhook. It never carries a token. */
export interface TesseraWebhookEvent {
  /** Equals the `webhook-id` header: the same across retries, so deduplicate on it. */
  id: string
  type: TesseraWebhookType
  /** ISO 8601: when the server recorded the event. */
  timestamp: string
  data: {
    session_id: string
    user_id: string
    client_id: string
    state: 'ended' | 'revoked' | 'expired' | 'abandoned' | 'removed' | 'replaced'
    /** Why it ended: `sign_out`, `user`, `admin`, `refresh_token_reuse`, `idle_timeout`, ... */
    reason: string
    /** ISO 8601; for a timeout, when the lifetime ran out. */
    ended_at: string
  }
}

export interface VerifyWebhookOptions {
  /** The endpoint's secret (`whsec_...`), or several during a rotation: any one may verify. */
  secret: string | readonly string[]
  /** Seconds the `webhook-timestamp` may be from now, either way (replay window). Default 300. */
  toleranceSeconds?: number
  /** Time source. Default `Date.now`. */
  clock?: Clock
}

export interface VerifiedWebhook<T = TesseraWebhookEvent> {
  /** The `webhook-id` header. */
  id: string
  /** The `webhook-timestamp` header, seconds since the epoch. */
  timestamp: number
  /** The parsed body. */
  event: T
}

/** Request headers as fetch, Node's `IncomingMessage` or a plain object hold them. */
export type WebhookHeaders =
  { get(name: string): string | null } | Record<string, string | readonly string[] | undefined>

const MAX_BODY = 1024 * 1024

/**
 * Verifies a webhook from a Tessera server (Standard Webhooks): the `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` headers, the timestamp within `toleranceSeconds` of
 * now, and a `v1` HMAC-SHA256 signature over `id.timestamp.body` compared in constant time. Pass
 * the body exactly as received (a string or the raw bytes): re-serialised JSON does not verify.
 * Throws {@link TesseraVerifyError} with a `webhook_*` code (or `invalid_options` for a malformed
 * secret); answer 400 or 401 then, and 2xx once the event is handled. Deliveries are at least
 * once: deduplicate on `id`.
 *
 * @example
 * ```ts
 * app.post('/hooks/tessera', express.raw({ type: 'application/json' }), async (req, res) => {
 *   const { event } = await verifyWebhook(req.body, req.headers, {
 *     secret: process.env.TESSERA_WEBHOOK_SECRET!,
 *   })
 *   if (event.type === 'session.revoked') await dropSession(event.data.session_id)
 *   res.sendStatus(204)
 * })
 * ```
 *
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function verifyWebhook<T = TesseraWebhookEvent>(
  body: string | Uint8Array,
  headers: WebhookHeaders,
  options: VerifyWebhookOptions,
): Promise<VerifiedWebhook<T>> {
  // Synchronous work behind a promise: callers await it like the token verifier, and a future
  // WebCrypto implementation can keep the signature.
  try {
    return Promise.resolve(verifyNow<T>(body, headers, options))
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)))
  }
}

function verifyNow<T>(
  body: string | Uint8Array,
  headers: WebhookHeaders,
  options: VerifyWebhookOptions,
): VerifiedWebhook<T> {
  const keys = secretKeys(options.secret)
  const tolerance = options.toleranceSeconds ?? 300
  if (!Number.isInteger(tolerance) || tolerance < 0) {
    throw new TesseraVerifyError('invalid_options', 'toleranceSeconds: must be a whole number >= 0')
  }
  const id = header(headers, 'webhook-id')
  const ts = header(headers, 'webhook-timestamp')
  const sig = header(headers, 'webhook-signature')
  if (id === undefined || ts === undefined || sig === undefined) {
    throw new TesseraVerifyError(
      'webhook_header_missing',
      'webhook-id, webhook-timestamp and webhook-signature are required',
    )
  }
  if (id.length > 256 || sig.length > 4096) {
    throw new TesseraVerifyError('webhook_header_missing', 'a webhook header is too long')
  }
  if (!/^\d{1,12}$/.test(ts)) {
    throw new TesseraVerifyError('webhook_timestamp_invalid', 'webhook-timestamp is not a number')
  }
  const timestamp = Number(ts)
  const now = Math.floor((options.clock ?? systemClock).now() / 1000)
  if (Math.abs(now - timestamp) > tolerance) {
    throw new TesseraVerifyError(
      'webhook_timestamp_invalid',
      `webhook-timestamp is more than ${tolerance} s from now`,
    )
  }
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body)
  if (raw.length > MAX_BODY) {
    throw new TesseraVerifyError('webhook_payload_invalid', 'the webhook body is too large')
  }
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), raw])
  const expected = keys.map((k) => createHmac('sha256', k).update(signed).digest())
  let valid = false
  for (const part of sig.split(' ')) {
    const comma = part.indexOf(',')
    if (comma < 0 || part.slice(0, comma) !== 'v1') continue
    const given = Buffer.from(part.slice(comma + 1), 'base64')
    // Every candidate is compared against every key, without stopping at the first match.
    for (const e of expected) {
      if (given.length === e.length && timingSafeEqual(given, e)) valid = true
    }
  }
  if (!valid) {
    throw new TesseraVerifyError(
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    )
  }
  let event: unknown
  try {
    event = JSON.parse(raw.toString('utf8'))
  } catch {
    throw new TesseraVerifyError('webhook_payload_invalid', 'the webhook body is not JSON')
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new TesseraVerifyError('webhook_payload_invalid', 'the webhook body is not an object')
  }
  const bodyId = (event as { id?: unknown }).id
  if (bodyId !== undefined && bodyId !== id) {
    throw new TesseraVerifyError('webhook_payload_invalid', 'the body id differs from webhook-id')
  }
  return { id, timestamp, event: event as T }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  let v: string | readonly string[] | null | undefined
  if (typeof headers.get === 'function') {
    v = (headers as { get(name: string): string | null }).get(name)
  } else {
    const h = headers as Record<string, string | readonly string[] | undefined>
    v = h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1]
  }
  if (Array.isArray(v)) return v.length === 1 ? (v[0] as string) : undefined
  return typeof v === 'string' && v !== '' ? v : undefined
}

function secretKeys(secret: string | readonly string[]): Buffer[] {
  const list = typeof secret === 'string' ? [secret] : secret
  if (!Array.isArray(list) || list.length === 0) {
    throw new TesseraVerifyError('invalid_options', 'secret: must be a whsec_ secret or a list')
  }
  return list.map((s: unknown) => {
    if (typeof s !== 'string' || !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(s)) {
      throw new TesseraVerifyError(
        'invalid_options',
        'secret: must be whsec_ followed by base64, as configured at the server',
      )
    }
    const key = Buffer.from(s.slice(6), 'base64')
    if (key.length < 24) {
      throw new TesseraVerifyError('invalid_options', 'secret: is shorter than 24 bytes')
    }
    return key
  })
}
