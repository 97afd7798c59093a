import { createHmac } from 'node:crypto'

/**
 * The `webhook-signature` header of Standard Webhooks: `v1,<base64 HMAC-SHA256>` of
 * `<webhook-id>.<webhook-timestamp>.<body>` for each key, separated by spaces (several during a
 * secret rotation; a receiver accepts any one that verifies).
 *
 * @example
 * signWebhook([key], 'msg_abc', 1767225600, '{"type":"session.revoked"}')
 * // -> 'v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4='
 *
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export function signWebhook(
  keys: readonly Buffer[],
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const content = `${id}.${timestampSeconds}.${body}`
  return keys
    .map((k) => `v1,${createHmac('sha256', k).update(content, 'utf8').digest('base64')}`)
    .join(' ')
}
