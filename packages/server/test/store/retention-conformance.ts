import { describe, expect, it } from 'vitest'
import type { Store } from '../../src/store/store.js'
import type { SessionState } from '../../src/store/types.js'
import { T0, browserSessionRecord, eventRecord, sessionRecord, uid } from './records.js'

/**
 * The retention part of the Store contract (deleteEndedSessions, deleteBrowserSessions,
 * deleteEvents: one bounded batch per call, strict `<` at the horizon, live rows never) and the
 * outbox filter (recordWebhookTypes), run inside `runStoreConformance` on every implementation.
 */
export function retentionConformance(store: () => Store): void {
  const HOUR = 3_600_000
  const ENDED: Exclude<SessionState, 'active' | 'pending'>[] = [
    'ended',
    'expired',
    'abandoned',
    'revoked',
    'removed',
    'replaced',
  ]

  describe('retention: ended sessions', () => {
    it('deletes sessions of every terminal state that ended before the horizon, not at it', async () => {
      const horizon = T0 + 10 * HOUR
      const old = ENDED.map((state) =>
        sessionRecord({ state, reason: 'admin', endedAt: horizon - 1 }),
      )
      const atHorizon = sessionRecord({ state: 'revoked', reason: 'admin', endedAt: horizon })
      // Live sessions are kept however old their timestamps.
      const active = sessionRecord({ createdAt: T0, lastActiveAt: T0, rotatedAt: T0 })
      const pending = sessionRecord({ state: 'pending' })
      for (const s of [...old, atHorizon, active, pending]) await store().createSession(s)
      expect(await store().deleteEndedSessions(horizon, 100)).toBe(ENDED.length)
      for (const s of old) expect(await store().getSession(s.id)).toBeUndefined()
      for (const s of [atHorizon, active, pending]) {
        expect((await store().getSession(s.id))?.id).toBe(s.id)
      }
      expect(await store().deleteEndedSessions(horizon, 100)).toBe(0)
    })

    it('deletes at most `limit` per call', async () => {
      for (let i = 0; i < 5; i++) {
        await store().createSession(
          sessionRecord({ state: 'ended', reason: 'sign_out', endedAt: T0 }),
        )
      }
      expect(await store().deleteEndedSessions(T0 + 1, 2)).toBe(2)
      expect(await store().deleteEndedSessions(T0 + 1, 2)).toBe(2)
      expect(await store().deleteEndedSessions(T0 + 1, 2)).toBe(1)
      expect(await store().listSessions({ limit: 10 })).toEqual([])
    })
  })

  describe('retention: browser sessions', () => {
    const before = T0 + 100 * HOUR
    const idleMs = 10 * HOUR

    it('deletes the ones over before the horizon (ended, past absolute end, idle), keeps the rest', async () => {
      const user = uid('usr_')
      const bs = (o: Parameters<typeof browserSessionRecord>[1]) =>
        browserSessionRecord(user, { lastActiveAt: before, expiresAt: before + HOUR, ...o })
      const gone = [
        bs({ endedAt: before - 1 }),
        bs({ expiresAt: before - 1 }),
        bs({ lastActiveAt: before - idleMs - 1 }),
      ]
      const kept = [
        bs({ endedAt: before }),
        bs({ expiresAt: before }),
        bs({ lastActiveAt: before - idleMs }),
        bs({}),
      ]
      for (const b of [...gone, ...kept]) await store().createBrowserSession(b)
      expect(await store().deleteBrowserSessions({ before, idleMs, limit: 100 })).toBe(gone.length)
      for (const b of gone) expect(await store().getBrowserSession(b.id)).toBeUndefined()
      for (const b of kept) expect(await store().getBrowserSession(b.id)).toStrictEqual(b)
    })

    it('keeps one a live session belongs to (a later sign-in moves it over; logout ends it through it)', async () => {
      const user = uid('usr_')
      const holding = browserSessionRecord(user, { endedAt: T0 })
      const released = browserSessionRecord(user, { endedAt: T0 })
      await store().createBrowserSession(holding)
      await store().createBrowserSession(released)
      await store().createSession(sessionRecord({ userId: user, browserSessionId: holding.id }))
      await store().createSession(
        sessionRecord({
          userId: user,
          browserSessionId: released.id,
          state: 'revoked',
          reason: 'admin',
          endedAt: T0,
        }),
      )
      expect(await store().deleteBrowserSessions({ before, idleMs, limit: 100 })).toBe(1)
      expect(await store().getBrowserSession(holding.id)).toStrictEqual(holding)
      expect(await store().getBrowserSession(released.id)).toBeUndefined()
    })

    it('deletes at most `limit` per call', async () => {
      const user = uid('usr_')
      for (let i = 0; i < 3; i++) {
        await store().createBrowserSession(browserSessionRecord(user, { endedAt: T0 }))
      }
      expect(await store().deleteBrowserSessions({ before, idleMs, limit: 2 })).toBe(2)
      expect(await store().deleteBrowserSessions({ before, idleMs, limit: 2 })).toBe(1)
      expect(await store().deleteBrowserSessions({ before, idleMs, limit: 2 })).toBe(0)
    })
  })

  describe('retention: security events', () => {
    it('deletes events recorded before the horizon, in batches of at most `limit`', async () => {
      const horizon = T0 + HOUR
      const old = [1, 2, 3].map((i) => eventRecord({ at: horizon - i }))
      const kept = [eventRecord({ at: horizon }), eventRecord({ at: horizon + 1 })]
      for (const e of [...old, ...kept]) await store().recordEvent(e)
      expect(await store().deleteEvents(horizon, 2)).toBe(2)
      expect(await store().deleteEvents(horizon, 2)).toBe(1)
      expect(await store().deleteEvents(horizon, 2)).toBe(0)
      const left = await store().listEvents({ limit: 10 })
      expect(left.map((e) => e.id).sort()).toEqual(kept.map((e) => e.id).sort())
    })
  })

  describe('outbox: only the webhook types some endpoint receives are written', () => {
    const end = async (reason: 'admin' | 'refresh_token_reuse') => {
      const s = sessionRecord()
      await store().createSession(s)
      expect(await store().endSession(s.id, 'revoked', reason, T0 + 5)).toBe(true)
      return s
    }

    it('none configured: ending sessions (one, several, the sweep) writes no message', async () => {
      store().recordWebhookTypes([])
      await end('admin')
      await end('refresh_token_reuse')
      const user = uid('usr_')
      await store().createSession(sessionRecord({ userId: user }))
      expect(await store().endSessions({ userId: user }, 'revoked', 'admin', T0 + 6)).toHaveLength(
        1,
      )
      await store().createSession(sessionRecord({ expiresAt: T0 + 1 }))
      expect((await store().sweepSessions(T0 + 7)).expired).toBe(1)
      expect(await store().listWebhookMessages()).toEqual([])
    })

    it('one type configured: only its messages are written; `all` writes every one again', async () => {
      store().recordWebhookTypes(['session.reuse_detected'])
      await end('admin')
      const reused = await end('refresh_token_reuse')
      expect((await store().listWebhookMessages()).map((m) => [m.id, m.type])).toEqual([
        [`msg_${reused.id}_reuse`, 'session.reuse_detected'],
      ])
      store().recordWebhookTypes('all')
      const s = await end('admin')
      expect((await store().listWebhookMessages()).map((m) => m.id)).toContain(`msg_${s.id}`)
    })
  })
}
