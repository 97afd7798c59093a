import type { EndedSession, WebhookEventType, WebhookMessageRecord } from '../store/types.js'

/** The `data` of a session webhook. Secret-free: ids, the end and its reason, never a token. */
export interface SessionWebhookData {
  session_id: string
  user_id: string
  client_id: string
  state: EndedSession['state']
  reason: EndedSession['reason']
  /** ISO 8601; for a timeout, when the lifetime ran out. */
  ended_at: string
}

/** The JSON body of every webhook (the Standard Webhooks payload shape, plus `id`). */
export interface WebhookPayload {
  /** Equals the `webhook-id` header. */
  id: string
  type: WebhookEventType
  /** ISO 8601: when the server recorded the event. */
  timestamp: string
  data: SessionWebhookData
}

/**
 * The webhook messages of one session moving to a terminal state: `session.<state>`, and for a
 * refresh token reuse also `session.reuse_detected`. A session reaches a terminal state once (a
 * conditional update from active), so ids derived from the session id are unique and the same
 * message can never be written twice.
 *
 * @example
 * sessionMessages({ id: 'Xy..', state: 'revoked', reason: 'refresh_token_reuse', ... }, now)
 * // -> [{ id: 'msg_Xy..', type: 'session.revoked', ... },
 * //     { id: 'msg_Xy.._reuse', type: 'session.reuse_detected', ... }]
 */
export function sessionMessages(s: EndedSession, at: number): WebhookMessageRecord[] {
  const data: SessionWebhookData = {
    session_id: s.id,
    user_id: s.userId,
    client_id: s.clientId,
    state: s.state,
    reason: s.reason,
    ended_at: new Date(s.endedAt).toISOString(),
  }
  const message = (id: string, type: WebhookEventType): WebhookMessageRecord => {
    const payload: WebhookPayload = { id, type, timestamp: new Date(at).toISOString(), data }
    return { id, type, payload: JSON.stringify(payload), createdAt: at }
  }
  const out = [message(`msg_${s.id}`, `session.${s.state}`)]
  if (s.reason === 'refresh_token_reuse') {
    out.push(message(`msg_${s.id}_reuse`, 'session.reuse_detected'))
  }
  return out
}

/** Every webhook event type, in the order the documentation lists them. */
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  'session.ended',
  'session.revoked',
  'session.expired',
  'session.abandoned',
  'session.removed',
  'session.replaced',
  'session.reuse_detected',
]
