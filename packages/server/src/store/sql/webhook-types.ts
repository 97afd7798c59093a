import type { WebhookEventType, WebhookMessageRecord } from '../types.js'

/** The webhook event types the outbox records: those some configured endpoint subscribes to, or
 * `all` (a store on its own, before a server has told it its endpoints). */
export type WebhookTypes = ReadonlySet<WebhookEventType> | 'all'

/** The messages of `messages` whose type is recorded. */
export function recordedMessages(
  messages: readonly WebhookMessageRecord[],
  types: WebhookTypes,
): readonly WebhookMessageRecord[] {
  return types === 'all' ? messages : messages.filter((m) => types.has(m.type))
}
