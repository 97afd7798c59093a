import type { Actor, AdminDeps } from '../admin/actor.js'
import { AdminServices } from '../admin/admin-services.js'
import type { TesseraConfig } from '../config/config.js'
import { MonotonicClock } from '../lib/clock.js'
import { cryptoRandom } from '../lib/random.js'
import { EventFactory } from '../security/events.js'
import { openStore, subscribedWebhookTypes } from '../server.js'
import type { CliIo } from './cli-io.js'

/**
 * Runs `fn` with the admin service layer on the configured store (migrated first), exactly as the
 * Admin API and the console use it, so the CLI enforces the same rules and records the same events.
 */
export async function withAdmin<T>(
  config: TesseraConfig,
  fn: (admin: AdminServices, deps: AdminDeps) => Promise<T>,
): Promise<T> {
  const store = await openStore(config)
  store.recordWebhookTypes(subscribedWebhookTypes(config))
  try {
    await store.migrate()
    const clock = new MonotonicClock()
    const deps: AdminDeps = {
      config,
      store,
      clock,
      random: cryptoRandom,
      events: new EventFactory(clock, cryptoRandom),
    }
    return await fn(new AdminServices(deps), deps)
  } finally {
    await store.close()
  }
}

/** The actor of CLI actions: the operating-system user who ran the command, as far as known. */
export function cliActor(io: CliIo): Actor {
  const user = io.env.USER ?? io.env.LOGNAME ?? 'unknown'
  return { kind: 'cli', id: 'cli', name: user.slice(0, 64), via: 'cli', ip: null, userAgent: null }
}

/** Tells the reader of a listing how to get the next page, on stderr so stdout stays parseable. */
export function nextPageHint(io: CliIo, cursor: string | null): void {
  if (cursor !== null) io.stderr.write(`more: run again with --cursor ${cursor}\n`)
}
