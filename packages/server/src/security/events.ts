import type { Clock } from '../lib/clock.js'
import { randomId, type Random } from '../lib/random.js'
import type { SecurityEventRecord, SecurityEventType } from '../store/types.js'

export interface EventInput {
  userId?: string | null
  clientId?: string | null
  sessionId?: string | null
  ip?: string | null
  userAgent?: string | null
  data?: Record<string, unknown>
}

/** Builds security event records with an id and the server's time. */
export class EventFactory {
  readonly #clock: Clock
  readonly #random: Random

  constructor(clock: Clock, random: Random) {
    this.#clock = clock
    this.#random = random
  }

  make(type: SecurityEventType, e: EventInput): SecurityEventRecord {
    return {
      id: `evt_${randomId(this.#random)}`,
      type,
      at: this.#clock.now(),
      userId: e.userId ?? null,
      clientId: e.clientId ?? null,
      sessionId: e.sessionId ?? null,
      ip: e.ip ?? null,
      userAgent: e.userAgent ?? null,
      data: e.data ?? {},
    }
  }
}
