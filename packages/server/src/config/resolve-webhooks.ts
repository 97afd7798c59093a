import { createHash } from 'node:crypto'
import { isLoopbackIp } from '../oauth/redirect-uri.js'
import type { WebhookEventType } from '../store/types.js'
import { WEBHOOK_EVENT_TYPES } from '../webhooks/messages.js'
import { ConfigError, type WebhookSettings } from './config.js'
import type { ConfigInput } from './resolve.js'
import { int } from './resolve.js'

const SECRET_PREFIX = 'whsec_'

/** Validates the `webhooks` settings; throws ConfigError naming the first bad one. */
export function resolveWebhooks(input: ConfigInput['webhooks'], dev: boolean): WebhookSettings {
  const w = input ?? {}
  if (typeof w !== 'object' || Array.isArray(w)) {
    throw new ConfigError('webhooks', 'must be an object with an endpoints list')
  }
  const list: unknown = w.endpoints ?? []
  if (!Array.isArray(list)) throw new ConfigError('webhooks.endpoints', 'must be a list')
  const urls = new Set<string>()
  const endpoints = list.map((raw: unknown, i) => {
    const at = `webhooks.endpoints[${i}]`
    if (typeof raw !== 'object' || raw === null) throw new ConfigError(at, 'must be an object')
    const e = raw as Record<string, unknown>
    for (const key of Object.keys(e)) {
      if (!['url', 'secret', 'events'].includes(key)) {
        throw new ConfigError(`${at}.${key}`, 'is not a known setting')
      }
    }
    const url = endpointUrl(`${at}.url`, e.url, dev)
    if (urls.has(url)) throw new ConfigError(`${at}.url`, 'is listed twice')
    urls.add(url)
    const secrets = typeof e.secret === 'string' ? [e.secret] : e.secret
    if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > 2) {
      throw new ConfigError(`${at}.secret`, 'must be a secret, or a list of two during a rotation')
    }
    const keys = secrets.map((s: unknown, j) =>
      secretKey(Array.isArray(e.secret) ? `${at}.secret[${j}]` : `${at}.secret`, s),
    )
    const events = e.events === undefined ? [...WEBHOOK_EVENT_TYPES] : e.events
    if (!Array.isArray(events) || events.length === 0) {
      throw new ConfigError(`${at}.events`, 'must be a non-empty list of event types')
    }
    for (const [j, t] of events.entries()) {
      if (!WEBHOOK_EVENT_TYPES.includes(t as WebhookEventType)) {
        throw new ConfigError(
          `${at}.events[${j}]`,
          `must be one of ${WEBHOOK_EVENT_TYPES.join(', ')}`,
        )
      }
    }
    return {
      id: endpointId(url),
      url,
      keys,
      events: [...new Set(events as WebhookEventType[])],
    }
  })
  const retryForSeconds = int('webhooks.retryForSeconds', w.retryForSeconds ?? 86_400, 60, 259_200)
  const retentionSeconds = int(
    'webhooks.retentionSeconds',
    w.retentionSeconds ?? 7 * 86_400,
    3600,
    365 * 86_400,
  )
  if (retentionSeconds <= retryForSeconds) {
    throw new ConfigError('webhooks.retentionSeconds', 'must be longer than retryForSeconds')
  }
  return {
    endpoints,
    timeoutSeconds: int('webhooks.timeoutSeconds', w.timeoutSeconds ?? 10, 1, 60),
    retryForSeconds,
    retentionSeconds,
  }
}

/** The endpoint's name in the outbox: stable while the URL is, and free of anything the URL
 * might carry (a token in its query, say). */
export function endpointId(url: string): string {
  return 'ep_' + createHash('sha256').update(url).digest('base64url').slice(0, 16)
}

function endpointUrl(setting: string, v: unknown, dev: boolean): string {
  if (typeof v !== 'string' || v.length > 2048) {
    throw new ConfigError(setting, 'must be an absolute URL')
  }
  let u: URL
  try {
    u = new URL(v)
  } catch {
    throw new ConfigError(setting, 'must be an absolute URL')
  }
  if (v.includes('#')) throw new ConfigError(setting, 'must not contain a fragment')
  if (u.username || u.password) throw new ConfigError(setting, 'must not contain credentials')
  if (u.protocol === 'https:') return v
  if (u.protocol === 'http:' && (dev || isLoopbackIp(u.hostname) || u.hostname === 'localhost')) {
    return v
  }
  throw new ConfigError(setting, 'must use https (http only for a loopback address)')
}

/** `whsec_` + standard base64 of 32 to 64 bytes, as Standard Webhooks libraries expect it. */
function secretKey(setting: string, v: unknown): Buffer {
  const format = `must be ${SECRET_PREFIX} followed by the base64 of 32 to 64 random bytes`
  if (typeof v !== 'string' || !v.startsWith(SECRET_PREFIX)) throw new ConfigError(setting, format)
  const b64 = v.slice(SECRET_PREFIX.length)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new ConfigError(setting, format)
  const key = Buffer.from(b64, 'base64')
  if (key.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
    throw new ConfigError(setting, format)
  }
  if (key.length < 32 || key.length > 64) throw new ConfigError(setting, format)
  return key
}
