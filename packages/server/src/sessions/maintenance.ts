import type { ServerContext } from '../context.js'
import { runRetention, type RetentionResult } from './retention.js'

export interface MaintenanceResult extends RetentionResult {
  expired: number
  abandoned: number
  codesDeleted: number
  throttleDeleted: number
  webhookRecordsDeleted: number
  dpopProofsDeleted: number
  emailTokensDeleted: number
  webauthnChallengesDeleted: number
}

/**
 * One maintenance pass: brings session states up to date (expired, abandoned) so lists and admin
 * views show the truth without waiting for a refresh to notice, recording a `session_expired` or
 * `session_abandoned` event (and the webhook message) for each in the same transaction; deletes
 * long-dead codes, throttle windows, webhook records and DPoP proof records; deletes ended
 * sessions, browser sessions and security events past their retention (in small batches, see
 * runRetention); and reloads signing keys rotated by another instance or the CLI.
 */
export async function runMaintenance(
  ctx: ServerContext,
  stopped: () => boolean = () => false,
): Promise<MaintenanceResult> {
  const now = ctx.clock.now()
  const { expired, abandoned } = await ctx.store.sweepSessions(now, (s) =>
    ctx.events.make(s.state === 'expired' ? 'session_expired' : 'session_abandoned', {
      userId: s.userId,
      clientId: s.clientId,
      sessionId: s.id,
      data: { reason: s.reason, endedAt: s.endedAt, by: 'maintenance' },
    }),
  )
  const codesDeleted = await ctx.store.deleteExpiredCodes(now)
  const throttleDeleted = await ctx.store.pruneThrottle(now)
  const { retryForSeconds, retentionSeconds } = ctx.config.webhooks
  // Messages older than the retry horizon were never fanned out (no server has webhooks
  // configured): past the horizon they would not be retried anyway.
  const webhookRecordsDeleted = await ctx.store.pruneWebhooks({
    messagesBefore: now - retryForSeconds * 1000,
    recordsBefore: now - retentionSeconds * 1000,
  })
  const dpopProofsDeleted = await ctx.store.pruneDpopProofs(now)
  const retained = await runRetention(ctx.store, now, {
    retention: ctx.config.retention,
    browserIdleSeconds: ctx.config.browserSession.idleSeconds,
    stopped,
  })
  const emailTokensDeleted = await ctx.store.pruneEmailTokens(now)
  const webauthnChallengesDeleted = await ctx.store.pruneWebAuthnChallenges(now)
  await ctx.keys.refreshIfStale()
  return {
    expired,
    abandoned,
    codesDeleted,
    throttleDeleted,
    webhookRecordsDeleted,
    dpopProofsDeleted,
    ...retained,
    emailTokensDeleted,
    webauthnChallengesDeleted,
  }
}

/** Runs `runMaintenance` every `config.maintenanceIntervalSeconds`; returns a stop function. */
export function scheduleMaintenance(ctx: ServerContext): () => void {
  const every = ctx.config.maintenanceIntervalSeconds
  if (every === 0) return () => {}
  let running = false
  let stopped = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    runMaintenance(ctx, () => stopped)
      .then((r) => {
        const deleted = r.sessionsDeleted + r.browserSessionsDeleted + r.eventsDeleted
        if (r.expired + r.abandoned + deleted > 0) ctx.log.info(r, 'maintenance')
      })
      .catch((err: unknown) => ctx.log.warn({ err }, 'maintenance failed'))
      .finally(() => {
        running = false
      })
  }, every * 1000)
  timer.unref()
  return () => {
    stopped = true
    clearInterval(timer)
  }
}
