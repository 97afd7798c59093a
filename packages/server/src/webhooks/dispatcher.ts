import type { FastifyBaseLogger } from 'fastify'
import type { WebhookEndpoint, WebhookSettings } from '../config/config.js'
import type { Metrics } from '../http/metrics.js'
import type { Clock } from '../lib/clock.js'
import { randomId, type Random } from '../lib/random.js'
import type { Store } from '../store/store.js'
import type { WebhookAttemptRecord, WebhookDeliveryRecord, WebhookOutcome } from '../store/types.js'
import { retryAfterMs, retryDelayMs } from './retry-schedule.js'
import { signWebhook } from './signature.js'

/** Timers the dispatcher's loop uses; tests inject ones that fire only when told. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** The process's timers, unref'd so a pending poll never keeps the process alive. */
export const realTimers: Timers = {
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}

export interface WebhookDispatcherOptions {
  store: Store
  clock: Clock
  random: Random
  log: FastifyBaseLogger
  settings: WebhookSettings
  metrics?: Metrics
  /** Default: the process's timers. */
  timers?: Timers
  /** Milliseconds between polls of the outbox when it was found empty. Default 1000. */
  pollIntervalMs?: number
  /** Deliveries claimed and attempted at once. Default 20. */
  batchSize?: number
}

export interface DispatchResult {
  /** Outbox messages turned into deliveries. */
  fannedOut: number
  /** Delivery attempts made. */
  attempted: number
  delivered: number
}

/** Outbox messages fanned out per statement; a pass takes at most 10 such batches. */
const FAN_OUT_BATCH = 100
/** A lease outlives the attempt timeout by this much, covering clock skew between instances. */
const LEASE_MARGIN_MS = 60_000
/** Sent as User-Agent, so receivers can tell the caller in their logs. */
const USER_AGENT = 'Tessera-Webhooks/1'

/**
 * Delivers webhook messages from the database outbox: fans new messages out to the subscribed
 * endpoints, leases due deliveries (a conditional update, so any number of server instances can
 * share one database), POSTs each with Standard Webhooks headers, and settles it: a 2xx deletes
 * it, 410 Gone fails it at once, anything else (another status, a timeout, a refused connection)
 * is retried with exponential backoff and jitter until `retryForSeconds` after the event, then
 * failed. Delivery is at least once: a receiver deduplicates on `webhook-id`.
 *
 * @example
 * const dispatcher = new WebhookDispatcher({ store, clock, random, log, settings: config.webhooks })
 * dispatcher.start()
 * // ...
 * await dispatcher.stop()
 *
 * @see https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
export class WebhookDispatcher {
  /** This dispatcher's name on the leases it holds. */
  readonly owner: string
  readonly #o: WebhookDispatcherOptions
  readonly #timers: Timers
  readonly #endpoints: Map<string, WebhookEndpoint>
  readonly #poll: number
  readonly #batch: number
  #timer: unknown
  #stopped = true
  #pass: Promise<unknown> | undefined
  /** Aborts the attempts under way when the server stops, so shutdown never waits a timeout. */
  #shutdown = new AbortController()

  constructor(o: WebhookDispatcherOptions) {
    this.#o = o
    this.#timers = o.timers ?? realTimers
    this.#endpoints = new Map(o.settings.endpoints.map((e) => [e.id, e]))
    this.#poll = o.pollIntervalMs ?? 1000
    this.#batch = o.batchSize ?? 20
    this.owner = `wd_${randomId(o.random, 12)}`
  }

  /** Starts polling the outbox. */
  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    if (this.#shutdown.signal.aborted) this.#shutdown = new AbortController()
    this.#schedule(0)
  }

  /**
   * Stops polling, aborts the attempts under way (they are handed back uncounted and due at once,
   * for another instance or the next start) and waits until they are settled.
   */
  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#shutdown.abort()
    await this.#pass
  }

  /**
   * One pass: fans out new outbox messages, then claims the deliveries due now (by the injected
   * clock) and attempts them concurrently, each settled before this resolves.
   */
  async runOnce(): Promise<DispatchResult> {
    const { store, clock } = this.#o
    const subscriptions = this.#o.settings.endpoints.map((e) => ({
      endpointId: e.id,
      events: e.events,
    }))
    let fannedOut = 0
    for (let i = 0; i < 10; i++) {
      const n = await store.fanOutWebhookMessages(subscriptions, FAN_OUT_BATCH)
      fannedOut += n
      if (n < FAN_OUT_BATCH) break
    }
    const now = clock.now()
    const claimed = await store.claimWebhookDeliveries({
      owner: this.owner,
      endpointIds: [...this.#endpoints.keys()],
      now,
      leaseUntil: now + this.#o.settings.timeoutSeconds * 1000 + LEASE_MARGIN_MS,
      limit: this.#batch,
    })
    // Every attempt is waited for, even when one of them fails to settle (the store went away):
    // the pass, and so stop(), ends only when no attempt is still running.
    const settled = await Promise.allSettled(claimed.map((d) => this.#deliver(d)))
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed) throw failed.reason
    const results = settled.map(
      (r) => (r as PromiseFulfilledResult<WebhookOutcome['result']>).value,
    )
    return {
      fannedOut,
      attempted: claimed.length,
      delivered: results.filter((r) => r === 'delivered').length,
    }
  }

  #schedule(ms: number): void {
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined
      const pass = this.runOnce().then(
        (r) => (r.attempted >= this.#batch || r.fannedOut >= FAN_OUT_BATCH ? 0 : this.#poll),
        (err: unknown) => {
          this.#o.log.warn({ err }, 'webhook dispatch failed')
          return this.#poll
        },
      )
      this.#pass = pass.then((next) => {
        this.#pass = undefined
        if (!this.#stopped) this.#schedule(next)
      })
    }, ms)
  }

  async #deliver(d: WebhookDeliveryRecord): Promise<WebhookOutcome['result']> {
    const { clock, store, log, settings } = this.#o
    const endpoint = this.#endpoints.get(d.endpointId)
    if (!endpoint) return 'failed'
    const at = clock.now()
    const timestamp = Math.floor(at / 1000)
    const started = performance.now()
    let status: number | null = null
    let error: string | null = null
    let retryAfter: number | undefined
    try {
      const res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          'webhook-id': d.messageId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signWebhook(endpoint.keys, d.messageId, timestamp, d.payload),
        },
        body: d.payload,
        // A redirect is not followed: the signed request goes only where it was configured to.
        redirect: 'manual',
        signal: AbortSignal.any([
          AbortSignal.timeout(settings.timeoutSeconds * 1000),
          this.#shutdown.signal,
        ]),
      })
      status = res.status
      if (status === 429 || status === 503)
        retryAfter = retryAfterMs(res.headers.get('retry-after'))
      await res.body?.cancel().catch(() => undefined)
      if (status < 200 || status > 299) error = `HTTP ${status}`
    } catch (err) {
      if (this.#shutdown.signal.aborted) return this.#release(d)
      error = describeFailure(err, settings.timeoutSeconds)
    }
    const attempt: WebhookAttemptRecord = {
      id: `att_${randomId(this.#o.random)}`,
      deliveryId: d.id,
      messageId: d.messageId,
      endpointId: d.endpointId,
      attempt: d.attempts + 1,
      at,
      status,
      error,
      durationMs: Math.round(performance.now() - started),
    }
    const outcome = this.#outcome(d, attempt, retryAfter)
    const held = await store.settleWebhookDelivery(d.id, this.owner, attempt, outcome)
    this.#o.metrics?.webhookDeliveries.inc({ result: outcome.result })
    const fields = {
      endpoint: d.endpointId,
      messageId: d.messageId,
      type: d.type,
      attempt: attempt.attempt,
      status,
      error,
    }
    if (!held) log.warn(fields, 'webhook delivery settled after its lease ran out')
    if (outcome.result === 'retry') {
      log.warn(
        { ...fields, nextAttemptAt: outcome.nextAttemptAt },
        'webhook delivery will be retried',
      )
    } else if (outcome.result === 'failed') {
      log.error(fields, 'webhook delivery failed for good')
    } else {
      log.debug(fields, 'webhook delivered')
    }
    return outcome.result
  }

  /**
   * An attempt cut short by this server's shutdown is not the receiver's failure: counting it would
   * push the next attempt out by the backoff, and near the end of the retry window fail the
   * delivery for good because of a deploy. It goes back as it was, due at once, for another
   * instance or the next start (the receiver may have got it: it dedupes on webhook-id).
   */
  async #release(d: WebhookDeliveryRecord): Promise<'retry'> {
    const note = 'interrupted by a server shutdown (not counted as an attempt)'
    const held = await this.#o.store.releaseWebhookDelivery(
      d.id,
      this.owner,
      this.#o.clock.now(),
      note,
    )
    this.#o.log.info(
      { endpoint: d.endpointId, messageId: d.messageId, type: d.type, held },
      'webhook delivery interrupted by shutdown; handed back',
    )
    return 'retry'
  }

  #outcome(
    d: WebhookDeliveryRecord,
    attempt: WebhookAttemptRecord,
    retryAfter: number | undefined,
  ): WebhookOutcome {
    const { status } = attempt
    if (status !== null && status >= 200 && status <= 299) return { result: 'delivered' }
    // 410 Gone: the receiver says this endpoint is gone for good. Retrying would only load it; the
    // endpoint stays configured (the configuration is the source of truth), later events are sent.
    if (status === 410) return { result: 'failed' }
    const wait = Math.max(retryDelayMs(attempt.attempt, this.#o.random), retryAfter ?? 0)
    const next = attempt.at + wait
    if (next > d.createdAt + this.#o.settings.retryForSeconds * 1000) return { result: 'failed' }
    return { result: 'retry', nextAttemptAt: next }
  }
}

/** A short, secret-free reason for a failed request: never the URL, never the response body. */
function describeFailure(err: unknown, timeoutSeconds: number): string {
  const e = err as { name?: unknown; cause?: { code?: unknown; name?: unknown } }
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError') {
    return `no response within ${timeoutSeconds} s`
  }
  const code = e.cause?.code
  if (typeof code === 'string' && /^[A-Z_]{2,40}$/.test(code)) return `connection failed (${code})`
  return 'request failed'
}
