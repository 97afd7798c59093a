import type { ServerContext } from '../context.js'

export interface MaintenanceResult {
  expired: number
  abandoned: number
  codesDeleted: number
  throttleDeleted: number
  dpopProofsDeleted: number
}

/**
 * One maintenance pass: brings session states up to date (expired, abandoned) so lists and admin
 * views show the truth without waiting for a refresh to notice, deletes long-dead codes, throttle
 * windows and DPoP proof records, and reloads signing keys rotated by another instance or the CLI.
 */
export async function runMaintenance(ctx: ServerContext): Promise<MaintenanceResult> {
  const now = ctx.clock.now()
  const { expired, abandoned } = await ctx.store.sweepSessions(now)
  const codesDeleted = await ctx.store.deleteExpiredCodes(now)
  const throttleDeleted = await ctx.store.pruneThrottle(now)
  const dpopProofsDeleted = await ctx.store.pruneDpopProofs(now)
  await ctx.keys.refreshIfStale()
  return { expired, abandoned, codesDeleted, throttleDeleted, dpopProofsDeleted }
}

/** Runs `runMaintenance` every `config.maintenanceIntervalSeconds`; returns a stop function. */
export function scheduleMaintenance(ctx: ServerContext): () => void {
  const every = ctx.config.maintenanceIntervalSeconds
  if (every === 0) return () => {}
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    runMaintenance(ctx)
      .then((r) => {
        if (r.expired + r.abandoned > 0) ctx.log.info(r, 'maintenance')
      })
      .catch((err: unknown) => ctx.log.warn({ err }, 'maintenance failed'))
      .finally(() => {
        running = false
      })
  }, every * 1000)
  timer.unref()
  return () => clearInterval(timer)
}
