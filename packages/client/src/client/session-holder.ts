import { TesseraClientError } from '../errors.js'
import { backoffDelay } from '../lib/backoff.js'
import {
  SnapshotStore,
  type SessionSnapshot,
  type SessionStatus,
} from '../session/session-state.js'
import { parseStoredSession, type StoredSession } from '../session/stored-session.js'
import type { DiagnosticsHub } from './diagnostics-hub.js'
import type { Environment } from './environment.js'

/**
 * The session of this context: the record in memory, its copy in storage, and the snapshot the
 * app observes. The `epoch` is bumped whenever a session ends or another begins; work started
 * under an older epoch drops its result.
 */
export class SessionHolder {
  readonly state = new SnapshotStore()
  readonly #env: Environment
  readonly #events: DiagnosticsHub
  #session: StoredSession | null = null
  /** A record newer than storage, kept because a write failed. */
  #unpersisted: StoredSession | null = null
  #epoch = 0
  #persistTimer: unknown
  #disposed = false

  constructor(env: Environment, events: DiagnosticsHub) {
    this.#env = env
    this.#events = events
  }

  get session(): StoredSession | null {
    return this.#session
  }

  get epoch(): number {
    return this.#epoch
  }

  /** Ends the current epoch: results of work started before are dropped. Returns the new one. */
  nextEpoch(): number {
    return ++this.#epoch
  }

  /** Replaces the record in memory (not storage), taking its clock offset. */
  adopt(s: StoredSession): void {
    this.#session = s
    this.#env.time.restore(s.clockOffsetMs)
  }

  /** Sets the record in memory without touching the clock offset. */
  set(s: StoredSession): void {
    this.#session = s
  }

  /** Forgets the session in memory (storage is the caller's business). */
  clear(): void {
    this.#session = null
    this.#unpersisted = null
  }

  // ------------------------------------------------------------ storage

  /** The stored session; a record whose write failed wins over storage (and is written now). */
  async read(): Promise<StoredSession | null> {
    const env = this.#env
    if (this.#unpersisted) {
      try {
        await env.storage.set(env.sessionKey, JSON.stringify(this.#unpersisted))
        this.#unpersisted = null
      } catch {
        // Storage still failing: this context holds the newest session.
        return this.#unpersisted
      }
    }
    let raw: string | null
    try {
      raw = await env.storage.get(env.sessionKey)
    } catch (err) {
      throw new TesseraClientError(
        'storage_unavailable',
        'the session could not be read from storage',
        { cause: err },
      )
    }
    if (raw === null) return null
    const parsed = parseStoredSession(raw)
    if (!parsed) {
      this.#events.emit({ type: 'error', operation: 'read_session', code: 'storage_unavailable' })
      return null
    }
    return parsed
  }

  /** Writes `rec` if `epoch` is still current; on failure keeps it in memory and retries. */
  async persist(rec: StoredSession, epoch: number): Promise<void> {
    if (epoch !== this.#epoch) return
    try {
      await this.#env.storage.set(this.#env.sessionKey, JSON.stringify(rec))
      if (epoch === this.#epoch) this.#unpersisted = null
    } catch {
      if (epoch !== this.#epoch) return
      this.#unpersisted = rec
      this.#events.emit({ type: 'error', operation: 'write_session', code: 'storage_unavailable' })
      this.#schedulePersistRetry()
    }
  }

  /** Sets the record in memory and persists it under the current epoch. */
  async store(rec: StoredSession, epoch: number): Promise<void> {
    this.#session = rec
    await this.persist(rec, epoch)
  }

  #schedulePersistRetry(): void {
    if (this.#persistTimer !== undefined) return
    const env = this.#env
    const delay = backoffDelay(0, env.random, env.options.backoff)
    this.#persistTimer = env.clock.setTimeout(() => {
      this.#persistTimer = undefined
      const rec = this.#unpersisted
      if (!rec || this.#disposed) return
      void this.persist(rec, this.#epoch).then(() => {
        if (!this.#unpersisted) this.markHealthy()
      })
    }, delay)
  }

  stopTimers(): void {
    if (this.#persistTimer !== undefined) this.#env.clock.clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
  }

  dispose(): void {
    this.#disposed = true
    this.stopTimers()
  }

  // ------------------------------------------------------------ snapshot

  setStatus(status: SessionStatus, patch: Partial<SessionSnapshot> = {}): void {
    const before = this.state.get()
    this.state.update({ status, ...patch })
    const after = this.state.get()
    if (before.status !== after.status || before.reason !== after.reason) {
      this.#events.emit({ type: 'state', status: after.status, reason: after.reason })
    }
  }

  /** The snapshot fields that describe `s`. */
  fields(s: StoredSession): Partial<SessionSnapshot> {
    const device = (serverMs: number | null | undefined): number | null =>
      serverMs === null || serverMs === undefined ? null : serverMs - this.#env.time.offsetMs
    const task = s.claims?.tessera_task
    const abandonAt = device(s.refreshExpiresAt)
    return {
      user: s.claims ? Object.freeze({ ...s.claims }) : null,
      sessionId: s.sessionId,
      sessionExpiresAt: abandonAt,
      expireAt: device(s.absoluteEndAt),
      abandonAt,
      lastActiveAt: device(s.lastActiveAt),
      currentTask: typeof task === 'string' ? task : null,
      reason: null,
      returnTo: null,
    }
  }

  /** `signed-in`, or `offline` while the record could not be saved. */
  markHealthy(): void {
    if (!this.#session) return
    if (this.#unpersisted)
      this.offline({ code: 'storage_unavailable', message: 'the session could not be saved' })
    else this.setStatus('signed-in', { ...this.fields(this.#session), error: null })
  }

  /** `offline` with `error`, while signed in (the session is kept; nothing without one). */
  offline({ code, message }: { code: TesseraClientError['code']; message: string }): void {
    if (this.#session)
      this.setStatus('offline', { ...this.fields(this.#session), error: { code, message } })
  }
}
