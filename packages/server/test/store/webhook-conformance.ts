import { describe, expect, it } from 'vitest'
import type { Store } from '../../src/store/store.js'
import type {
  EndedSession,
  SecurityEventRecord,
  WebhookAttemptRecord,
  WebhookDeliveryRecord,
} from '../../src/store/types.js'
import { sessionMessages } from '../../src/webhooks/messages.js'
import { FAR, T0, browserSessionRecord, eventRecord, sessionRecord, uid } from './records.js'

/**
 * The outbox part of the Store contract (session ends write webhook messages atomically; fan-out,
 * claims and settling are safe with several dispatchers), run inside `runStoreConformance` so
 * every implementation gets it. `store()` returns the fresh store of the running test.
 */
export function webhookOutboxConformance(store: () => Store, racers: number): void {
  const race = <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> =>
    Promise.all(Array.from({ length: n }, (_, i) => fn(i)))

  const eventFor =
    (type: SecurityEventRecord['type'], at: number) =>
    (s: EndedSession): SecurityEventRecord =>
      eventRecord({
        type,
        at,
        userId: s.userId,
        clientId: s.clientId,
        sessionId: s.id,
        data: { reason: s.reason, endedAt: s.endedAt },
      })

  const ALL = [
    'session.ended',
    'session.revoked',
    'session.expired',
    'session.abandoned',
    'session.reuse_detected',
  ] as const

  /** Writes `n` messages by ending `n` sessions. */
  async function messages(n: number, at = T0 + 100): Promise<string[]> {
    const ids: string[] = []
    for (let i = 0; i < n; i++) {
      const s = sessionRecord()
      await store().createSession(s)
      await store().endSession(s.id, 'revoked', 'admin', at + i)
      ids.push(`msg_${s.id}`)
    }
    return ids
  }

  const attempt = (d: WebhookDeliveryRecord, o: Partial<WebhookAttemptRecord> = {}) => ({
    id: uid('att_'),
    deliveryId: d.id,
    messageId: d.messageId,
    endpointId: d.endpointId,
    attempt: d.attempts + 1,
    at: T0 + 500,
    status: 500,
    error: 'HTTP 500',
    durationMs: 12,
    ...o,
  })

  describe('webhook outbox: messages written with the session change', () => {
    it('endSession writes one session.<state> message with the ids, reason and end time', async () => {
      const s = sessionRecord()
      await store().createSession(s)
      expect(await store().endSession(s.id, 'ended', 'sign_out', FAR + 5)).toBe(true)
      const [m, ...rest] = await store().listWebhookMessages()
      expect(rest).toStrictEqual([])
      expect(m).toStrictEqual({
        id: `msg_${s.id}`,
        type: 'session.ended',
        payload: expect.any(String) as string,
        createdAt: FAR + 5,
      })
      expect(JSON.parse(m!.payload)).toStrictEqual({
        id: `msg_${s.id}`,
        type: 'session.ended',
        timestamp: new Date(FAR + 5).toISOString(),
        data: {
          session_id: s.id,
          user_id: s.userId,
          client_id: s.clientId,
          state: 'ended',
          reason: 'sign_out',
          ended_at: new Date(FAR + 5).toISOString(),
        },
      })
      // Ending it again changes nothing and writes no second message.
      expect(await store().endSession(s.id, 'revoked', 'admin', FAR + 6)).toBe(false)
      expect(await store().listWebhookMessages()).toHaveLength(1)
    })

    it('a session ended at an earlier moment (a timeout) keeps that end time; its message is dated now', async () => {
      const s = sessionRecord()
      await store().createSession(s)
      expect(
        await store().endSession(s.id, 'abandoned', 'idle_timeout', FAR + 9, undefined, FAR + 1),
      ).toBe(true)
      expect((await store().getSession(s.id))?.endedAt).toBe(FAR + 1)
      const [m] = await store().listWebhookMessages()
      expect(m?.createdAt).toBe(FAR + 9)
      const payload = JSON.parse(m!.payload) as { timestamp: string; data: { ended_at: string } }
      expect(payload.timestamp).toBe(new Date(FAR + 9).toISOString())
      expect(payload.data.ended_at).toBe(new Date(FAR + 1).toISOString())
    })

    it('a refresh token reuse writes session.revoked and session.reuse_detected', async () => {
      const s = sessionRecord()
      await store().createSession(s)
      await store().endSession(s.id, 'revoked', 'refresh_token_reuse', T0 + 7, eventRecord())
      const list = await store().listWebhookMessages()
      expect(list.map((m) => [m.id, m.type])).toStrictEqual([
        [`msg_${s.id}`, 'session.revoked'],
        [`msg_${s.id}_reuse`, 'session.reuse_detected'],
      ])
      expect(list.map((m) => m.payload)).toStrictEqual(
        sessionMessages(
          {
            id: s.id,
            userId: s.userId,
            clientId: s.clientId,
            state: 'revoked',
            reason: 'refresh_token_reuse',
            endedAt: T0 + 7,
          },
          T0 + 7,
        ).map((m) => m.payload),
      )
    })

    it('a failing event write rolls back the session change and its message', async () => {
      const s = sessionRecord()
      await store().createSession(s)
      const taken = eventRecord()
      await store().recordEvent(taken)
      await expect(
        store().endSession(s.id, 'revoked', 'admin', T0 + 1, { ...taken, sessionId: s.id }),
      ).rejects.toThrow()
      expect(await store().getSession(s.id)).toStrictEqual(s)
      expect(await store().listWebhookMessages()).toStrictEqual([])
    })

    it('endSessions records one event and one message per ended session, in one transaction', async () => {
      const user = uid('usr_')
      const [a, b, keep] = [
        sessionRecord({ userId: user }),
        sessionRecord({ userId: user }),
        sessionRecord({ userId: user }),
      ]
      const other = sessionRecord()
      for (const s of [a, b, keep, other]) await store().createSession(s)
      const ids = await store().endSessions(
        { userId: user, exceptId: keep.id },
        'revoked',
        'user',
        T0 + 50,
        eventFor('session_revoked', T0 + 50),
      )
      expect([...ids].sort()).toStrictEqual([a.id, b.id].sort())
      const events = await store().listEvents({ userId: user })
      expect(events.map((e) => [e.sessionId, e.type, e.data]).sort()).toStrictEqual(
        [a.id, b.id]
          .sort()
          .map((id) => [id, 'session_revoked', { reason: 'user', endedAt: T0 + 50 }]),
      )
      expect((await store().listWebhookMessages()).map((m) => m.id).sort()).toStrictEqual(
        [a.id, b.id].map((id) => `msg_${id}`).sort(),
      )
    })

    it('endSessions rolls back every session when one event cannot be written', async () => {
      const user = uid('usr_')
      const rows = [sessionRecord({ userId: user }), sessionRecord({ userId: user })]
      for (const s of rows) await store().createSession(s)
      const clash = eventRecord()
      await store().recordEvent(clash)
      // Every built event has the same id: the second insert fails.
      await expect(
        store().endSessions({ userId: user }, 'revoked', 'user', T0 + 1, (s) => ({
          ...clash,
          id: `evt_same_${user}`,
          sessionId: s.id,
        })),
      ).rejects.toThrow()
      for (const s of rows) expect(await store().getSession(s.id)).toStrictEqual(s)
      expect(await store().listWebhookMessages()).toStrictEqual([])
      expect(await store().listEvents({ userId: user })).toStrictEqual([])
    })

    it('sweepSessions records one event and one message per swept session, dated as it ended', async () => {
      const NOW = T0 + 30 * 86_400_000
      const expired = sessionRecord({ expiresAt: NOW - 1000, lastActiveAt: NOW, idleSeconds: 3600 })
      const abandoned = sessionRecord({
        expiresAt: FAR,
        lastActiveAt: NOW - 7_200_000,
        idleSeconds: 3600,
      })
      const live = sessionRecord({ expiresAt: FAR, lastActiveAt: NOW, idleSeconds: 3600 })
      for (const s of [expired, abandoned, live]) await store().createSession(s)
      const built: EndedSession[] = []
      const result = await store().sweepSessions(NOW, (s) => {
        built.push(s)
        return eventFor(s.state === 'expired' ? 'session_expired' : 'session_abandoned', NOW)(s)
      })
      expect(result).toStrictEqual({ expired: 1, abandoned: 1 })
      expect(built.sort((x, y) => (x.state < y.state ? -1 : 1))).toStrictEqual([
        {
          id: abandoned.id,
          userId: abandoned.userId,
          clientId: abandoned.clientId,
          state: 'abandoned',
          reason: 'idle_timeout',
          endedAt: NOW - 3_600_000,
        },
        {
          id: expired.id,
          userId: expired.userId,
          clientId: expired.clientId,
          state: 'expired',
          reason: 'absolute_lifetime',
          endedAt: NOW - 1000,
        },
      ])
      expect(
        (await store().listEvents({ sessionId: expired.id })).map((e) => e.type),
      ).toStrictEqual(['session_expired'])
      expect(
        (await store().listEvents({ sessionId: abandoned.id })).map((e) => e.type),
      ).toStrictEqual(['session_abandoned'])
      const msgs = await store().listWebhookMessages()
      expect(msgs.map((m) => [m.id, m.type, m.createdAt]).sort()).toStrictEqual(
        [
          [`msg_${expired.id}`, 'session.expired', NOW],
          [`msg_${abandoned.id}`, 'session.abandoned', NOW],
        ].sort(),
      )
      expect(
        JSON.parse(msgs.find((m) => m.type === 'session.expired')!.payload).data.ended_at,
      ).toBe(new Date(NOW - 1000).toISOString())
      expect(await store().sweepSessions(NOW, eventFor('session_expired', NOW))).toStrictEqual({
        expired: 0,
        abandoned: 0,
      })
      expect(await store().listWebhookMessages()).toHaveLength(2)
    })

    it('sweepSessions ends more sessions than one batch holds, each once', async () => {
      const NOW = T0 + 30 * 86_400_000
      const rows = Array.from({ length: 520 }, () =>
        sessionRecord({ expiresAt: NOW - 1, lastActiveAt: NOW, idleSeconds: 3600 }),
      )
      for (const s of rows) await store().createSession(s)
      expect(await store().sweepSessions(NOW)).toStrictEqual({ expired: 520, abandoned: 0 })
      expect(await store().listWebhookMessages(1000)).toHaveLength(520)
    })
  })

  describe('webhook outbox: fan-out, claims and settling', () => {
    it('fan-out turns each message into one delivery per subscribed endpoint and deletes it', async () => {
      const s1 = sessionRecord()
      const s2 = sessionRecord()
      await store().createSession(s1)
      await store().createSession(s2)
      await store().endSession(s1.id, 'ended', 'sign_out', T0 + 1)
      await store().endSession(s2.id, 'revoked', 'refresh_token_reuse', T0 + 2)
      const taken = await store().fanOutWebhookMessages(
        [
          { endpointId: 'ep_all', events: ALL },
          { endpointId: 'ep_reuse', events: ['session.reuse_detected'] },
          { endpointId: 'ep_none', events: ['session.expired'] },
        ],
        100,
      )
      expect(taken).toBe(3)
      expect(await store().listWebhookMessages()).toStrictEqual([])
      const all = await store().listWebhookDeliveries({})
      expect(all.map((d) => d.id).sort()).toStrictEqual(
        [
          `ep_all/msg_${s1.id}`,
          `ep_all/msg_${s2.id}`,
          `ep_all/msg_${s2.id}_reuse`,
          `ep_reuse/msg_${s2.id}_reuse`,
        ].sort(),
      )
      const d = all.find((x) => x.id === `ep_all/msg_${s1.id}`)
      expect(d).toStrictEqual({
        id: `ep_all/msg_${s1.id}`,
        messageId: `msg_${s1.id}`,
        endpointId: 'ep_all',
        type: 'session.ended',
        payload: expect.stringContaining(`"session_id":"${s1.id}"`) as string,
        createdAt: T0 + 1,
        state: 'pending',
        attempts: 0,
        nextAttemptAt: T0 + 1,
        leaseOwner: null,
        leaseUntil: null,
        lastAttemptAt: null,
        lastStatus: null,
        lastError: null,
      })
    })

    it('fan-out with no subscriber drops the messages; it takes at most `limit`, oldest first', async () => {
      const ids = await messages(5)
      expect(await store().fanOutWebhookMessages([], 2)).toBe(2)
      expect((await store().listWebhookMessages()).map((m) => m.id)).toStrictEqual(ids.slice(2))
      expect(await store().listWebhookDeliveries({})).toStrictEqual([])
    })

    it(`${racers} concurrent fan-outs: every message becomes exactly one delivery per endpoint`, async () => {
      const ids = await messages(30)
      const subs = [
        { endpointId: 'ep_a', events: ALL },
        { endpointId: 'ep_b', events: ALL },
      ]
      const taken = await race(racers, () => store().fanOutWebhookMessages(subs, 7))
      let more = 0
      while ((more = await store().fanOutWebhookMessages(subs, 7)) > 0) taken.push(more)
      expect(taken.reduce((a, b) => a + b, 0)).toBe(30)
      const deliveries = await store().listWebhookDeliveries({ limit: 1000 })
      expect(deliveries.map((d) => d.id).sort()).toStrictEqual(
        ids.flatMap((id) => [`ep_a/${id}`, `ep_b/${id}`]).sort(),
      )
    })

    it('claims only due, unleased, pending deliveries of the named endpoints, earliest first', async () => {
      await messages(3, T0 + 100)
      await store().fanOutWebhookMessages(
        [
          { endpointId: 'ep_a', events: ALL },
          { endpointId: 'ep_b', events: ALL },
        ],
        100,
      )
      // Not due yet at T0 + 100 for the two later messages.
      const first = await store().claimWebhookDeliveries({
        owner: 'one',
        endpointIds: ['ep_a'],
        now: T0 + 100,
        leaseUntil: T0 + 60_100,
        limit: 10,
      })
      expect(
        first.map((d) => [d.endpointId, d.createdAt, d.leaseOwner, d.leaseUntil]),
      ).toStrictEqual([['ep_a', T0 + 100, 'one', T0 + 60_100]])
      const later = await store().claimWebhookDeliveries({
        owner: 'two',
        endpointIds: ['ep_a'],
        now: T0 + 1000,
        leaseUntil: T0 + 61_000,
        limit: 10,
      })
      expect(later.map((d) => d.createdAt)).toStrictEqual([T0 + 101, T0 + 102])
      expect(
        await store().claimWebhookDeliveries({
          owner: 'three',
          endpointIds: [],
          now: FAR,
          leaseUntil: FAR + 1,
          limit: 10,
        }),
      ).toStrictEqual([])
      // Once a lease has run out the delivery can be claimed again (the holder died).
      const retaken = await store().claimWebhookDeliveries({
        owner: 'four',
        endpointIds: ['ep_a'],
        now: T0 + 60_100,
        leaseUntil: T0 + 120_000,
        limit: 10,
      })
      expect(retaken.map((d) => [d.id, d.leaseOwner])).toStrictEqual([[first[0]!.id, 'four']])
    })

    it(`${racers} concurrent claims: every delivery is leased to exactly one owner`, async () => {
      await messages(25)
      await store().fanOutWebhookMessages([{ endpointId: 'ep', events: ALL }], 100)
      const claims = await race(racers, (i) =>
        store().claimWebhookDeliveries({
          owner: `owner-${i}`,
          endpointIds: ['ep'],
          now: T0 + 1000,
          leaseUntil: T0 + 31_000,
          limit: 3,
        }),
      )
      const ids = claims.flat().map((d) => d.id)
      expect(new Set(ids).size).toBe(ids.length)
      const stored = await store().listWebhookDeliveries({ limit: 100 })
      for (const [i, list] of claims.entries()) {
        for (const d of list) {
          expect(stored.find((x) => x.id === d.id)?.leaseOwner).toBe(`owner-${i}`)
        }
      }
      expect(stored.filter((d) => d.leaseOwner !== null)).toHaveLength(ids.length)
    })

    it('settle: delivered deletes, retry reschedules and releases, failed keeps; attempts are kept', async () => {
      await messages(3)
      await store().fanOutWebhookMessages([{ endpointId: 'ep', events: ALL }], 100)
      const [a, b, c] = await store().claimWebhookDeliveries({
        owner: 'me',
        endpointIds: ['ep'],
        now: T0 + 500,
        leaseUntil: T0 + 30_500,
        limit: 10,
      })
      const okAttempt = attempt(a!, { status: 204, error: null })
      expect(
        await store().settleWebhookDelivery(a!.id, 'me', okAttempt, { result: 'delivered' }),
      ).toBe(true)
      const retryAttempt = attempt(b!, { status: null, error: 'connection refused' })
      expect(
        await store().settleWebhookDelivery(b!.id, 'me', retryAttempt, {
          result: 'retry',
          nextAttemptAt: T0 + 5500,
        }),
      ).toBe(true)
      const failAttempt = attempt(c!, { status: 410, error: 'HTTP 410' })
      expect(
        await store().settleWebhookDelivery(c!.id, 'me', failAttempt, { result: 'failed' }),
      ).toBe(true)

      const rest = await store().listWebhookDeliveries({})
      expect(rest.map((d) => d.id).sort()).toStrictEqual([b!.id, c!.id].sort())
      expect(rest.find((d) => d.id === b!.id)).toMatchObject({
        state: 'pending',
        attempts: 1,
        nextAttemptAt: T0 + 5500,
        leaseOwner: null,
        leaseUntil: null,
        lastAttemptAt: T0 + 500,
        lastStatus: null,
        lastError: 'connection refused',
      })
      expect(rest.find((d) => d.id === c!.id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        lastStatus: 410,
        lastError: 'HTTP 410',
        leaseOwner: null,
      })
      expect(await store().listWebhookDeliveries({ state: 'failed' })).toHaveLength(1)
      expect(await store().listWebhookAttempts({ deliveryId: a!.id })).toStrictEqual([okAttempt])
      expect(await store().listWebhookAttempts({})).toHaveLength(3)
      // A failed delivery is never claimed again; the rescheduled one is, when due.
      const due = await store().claimWebhookDeliveries({
        owner: 'me',
        endpointIds: ['ep'],
        now: FAR,
        leaseUntil: FAR + 1,
        limit: 10,
      })
      expect(due.map((d) => d.id)).toStrictEqual([b!.id])
    })

    it('settle by a dispatcher whose lease was taken over changes nothing but records its attempt', async () => {
      await messages(1)
      await store().fanOutWebhookMessages([{ endpointId: 'ep', events: ALL }], 100)
      const [d] = await store().claimWebhookDeliveries({
        owner: 'slow',
        endpointIds: ['ep'],
        now: T0 + 500,
        leaseUntil: T0 + 1500,
        limit: 1,
      })
      const [again] = await store().claimWebhookDeliveries({
        owner: 'fast',
        endpointIds: ['ep'],
        now: T0 + 1500,
        leaseUntil: T0 + 9000,
        limit: 1,
      })
      expect(again?.id).toBe(d!.id)
      const late = attempt(d!, { status: 200, error: null })
      expect(
        await store().settleWebhookDelivery(d!.id, 'slow', late, { result: 'delivered' }),
      ).toBe(false)
      expect((await store().listWebhookDeliveries({}))[0]?.leaseOwner).toBe('fast')
      expect(await store().listWebhookAttempts({ deliveryId: d!.id })).toStrictEqual([late])
    })

    it('release hands a delivery back uncounted and due, only by the lease holder', async () => {
      await messages(1)
      await store().fanOutWebhookMessages([{ endpointId: 'ep', events: ALL }], 100)
      const [d] = await store().claimWebhookDeliveries({
        owner: 'me',
        endpointIds: ['ep'],
        now: T0 + 500,
        leaseUntil: T0 + 1500,
        limit: 1,
      })
      expect(await store().releaseWebhookDelivery(d!.id, 'someone-else', T0 + 600, 'x')).toBe(false)
      expect((await store().listWebhookDeliveries({}))[0]?.leaseOwner).toBe('me')
      expect(await store().releaseWebhookDelivery(d!.id, 'me', T0 + 700, 'interrupted')).toBe(true)
      const [back] = await store().listWebhookDeliveries({})
      expect(back).toMatchObject({
        id: d!.id,
        state: 'pending',
        attempts: d!.attempts,
        nextAttemptAt: T0 + 700,
        leaseOwner: null,
        leaseUntil: null,
        lastError: 'interrupted',
      })
      expect(await store().listWebhookAttempts({ deliveryId: d!.id })).toStrictEqual([])
      const [again] = await store().claimWebhookDeliveries({
        owner: 'next',
        endpointIds: ['ep'],
        now: T0 + 700,
        leaseUntil: T0 + 9000,
        limit: 1,
      })
      expect(again?.id).toBe(d!.id)
    })

    it('prune deletes old messages, deliveries and attempts and keeps recent ones', async () => {
      await messages(2, T0)
      await store().fanOutWebhookMessages([{ endpointId: 'ep', events: ALL }], 100)
      const [d] = await store().claimWebhookDeliveries({
        owner: 'me',
        endpointIds: ['ep'],
        now: T0 + 10,
        leaseUntil: T0 + 100,
        limit: 1,
      })
      await store().settleWebhookDelivery(d!.id, 'me', attempt(d!, { at: T0 + 20 }), {
        result: 'failed',
      })
      const recent = await messages(1, T0 + 10_000)
      expect(
        await store().pruneWebhooks({ messagesBefore: T0 + 5000, recordsBefore: T0 + 5000 }),
      ).toBe(3)
      expect((await store().listWebhookMessages()).map((m) => m.id)).toStrictEqual(recent)
      expect(await store().listWebhookDeliveries({})).toStrictEqual([])
      expect(await store().listWebhookAttempts({})).toStrictEqual([])
    })
  })

  describe('endBrowserSessions', () => {
    it("ends the user's open browser sessions except one, and no one else's", async () => {
      const user = uid('usr_')
      const [keep, a, b] = [
        browserSessionRecord(user),
        browserSessionRecord(user),
        browserSessionRecord(user),
      ]
      const done = browserSessionRecord(user, { endedAt: T0 + 1 })
      const other = browserSessionRecord(uid('usr_'))
      for (const bs of [keep, a, b, done, other]) await store().createBrowserSession(bs)
      const ids = await store().endBrowserSessions({ userId: user, exceptId: keep.id }, T0 + 9)
      expect([...ids].sort()).toStrictEqual([a.id, b.id].sort())
      expect((await store().getBrowserSession(a.id))?.endedAt).toBe(T0 + 9)
      expect(await store().getBrowserSession(keep.id)).toStrictEqual(keep)
      expect(await store().getBrowserSession(done.id)).toStrictEqual(done)
      expect(await store().getBrowserSession(other.id)).toStrictEqual(other)
      expect(
        await store().endBrowserSessions({ userId: user, exceptId: null }, T0 + 10),
      ).toStrictEqual([keep.id])
    })
  })

  describe('listSessions: live or ended since', () => {
    it('lists live sessions and those that ended at or after the cut-off', async () => {
      const user = uid('usr_')
      const live = sessionRecord({ userId: user, createdAt: T0 + 1 })
      const pending = sessionRecord({ userId: user, createdAt: T0 + 2, state: 'pending' })
      const recent = sessionRecord({
        userId: user,
        createdAt: T0 + 3,
        state: 'ended',
        reason: 'sign_out',
        endedAt: T0 + 1000,
      })
      const old = sessionRecord({
        userId: user,
        createdAt: T0 + 4,
        state: 'revoked',
        reason: 'admin',
        endedAt: T0 + 999,
      })
      for (const s of [live, pending, recent, old]) await store().createSession(s)
      expect(
        await store().listSessions({ userId: user, liveOrEndedSince: T0 + 1000 }),
      ).toStrictEqual([recent, pending, live])
    })
  })
}
