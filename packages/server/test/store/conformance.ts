import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { judgeSession } from '../../src/sessions/lifecycle.js'
import type { Store } from '../../src/store/store.js'
import type { RevokeAll } from '../../src/store/store.js'
import type {
  ClientRecord,
  DeviceKeyRecord,
  PasskeyRecord,
  SessionRecord,
  SessionState,
} from '../../src/store/types.js'
import {
  FAR,
  T0,
  adminKeyRecord,
  adminSessionRecord,
  apiRecord,
  browserSessionRecord,
  clientRecord,
  codeRecord,
  eventRecord,
  sessionRecord,
  signingKeyRecord,
  uid,
  userRecord,
} from './records.js'
import { retentionConformance } from './retention-conformance.js'
import { webhookOutboxConformance } from './webhook-conformance.js'
import { accountStoreConformance } from './account-conformance.js'

export interface OpenedStore {
  store: Store
  /** Closes the store and removes whatever `open()` created. */
  cleanup(): Promise<void>
}

/** Concurrent callers in the race tests: well above one, and above a small connection pool. */
const RACERS = 20

const ENDED_STATES: Exclude<SessionState, 'active' | 'pending'>[] = [
  'ended',
  'expired',
  'abandoned',
  'revoked',
  'removed',
  'replaced',
]

/**
 * The contract of `Store` (src/store/store.ts), run against every implementation. `open()` must
 * return a fresh, empty store for each test; the suite calls `migrate()` itself. Nothing here is
 * specific to one database: assertions are on what the interface returns, never on SQL, error
 * classes or file contents, so SQLite and PostgreSQL run it unchanged.
 */
export function runStoreConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store conformance: ${name}`, () => {
    let opened: OpenedStore
    let store: Store

    beforeEach(async () => {
      opened = await open()
      store = opened.store
      await store.migrate()
    })
    afterEach(async () => {
      await opened.cleanup()
    })

    /** Starts all calls in the same tick, so they contend for the same rows. */
    const race = <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> =>
      Promise.all(Array.from({ length: n }, (_, i) => fn(i)))

    const mustGetSession = async (id: string): Promise<SessionRecord> => {
      const s = await store.getSession(id)
      if (!s) throw new Error(`session ${id} is missing`)
      return s
    }

    describe('lifecycle', () => {
      it('names its kind', () => {
        expect(['sqlite', 'postgres']).toContain(store.kind)
      })

      it('migrate is safe to call again and keeps the data', async () => {
        const c = clientRecord()
        await store.upsertClient(c)
        await store.migrate()
        await store.migrate()
        expect(await store.getClient(c.id)).toStrictEqual(c)
      })

      it('ping resolves on an open store', async () => {
        await expect(store.ping()).resolves.toBeUndefined()
      })
    })

    describe('clients', () => {
      it('round-trips every field of a confidential and of a public client', async () => {
        const confidential = clientRecord()
        const pub = clientRecord({
          secretHash: null,
          tokenEndpointAuthMethod: 'none',
          applicationType: 'web',
          redirectUris: [],
          postLogoutRedirectUris: [],
          audiences: [],
        })
        await store.upsertClient(confidential)
        await store.upsertClient(pub)
        expect(await store.getClient(confidential.id)).toStrictEqual(confidential)
        expect(await store.getClient(pub.id)).toStrictEqual(pub)
        const listed = await store.listClients()
        expect(listed).toHaveLength(2)
        expect(listed).toContainEqual(confidential)
        expect(listed).toContainEqual(pub)
      })

      it('upsert replaces the record of the same id', async () => {
        const c = clientRecord()
        await store.upsertClient(c)
        const changed = clientRecord({
          id: c.id,
          name: 'renamed',
          redirectUris: ['https://new.example.test/cb'],
          refreshGraceSeconds: 5,
          updatedAt: FAR + 99,
        })
        await store.upsertClient(changed)
        expect(await store.getClient(c.id)).toStrictEqual(changed)
        expect(await store.listClients()).toStrictEqual([changed])
      })

      it('delete reports whether a client was there', async () => {
        const c = clientRecord()
        await store.upsertClient(c)
        expect((await store.writeClient({ delete: c.id })).ok).toBe(true)
        expect(await store.getClient(c.id)).toBeUndefined()
        expect(await store.writeClient({ delete: c.id })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
        expect(await store.listClients()).toStrictEqual([])
      })

      it('an unknown id is undefined', async () => {
        expect(await store.getClient('no-such-client')).toBeUndefined()
      })
    })

    describe('APIs', () => {
      it('round-trips every field', async () => {
        const a = apiRecord()
        const b = apiRecord({ scopes: [], userClaims: [] })
        await store.upsertApi(a)
        await store.upsertApi(b)
        expect(await store.getApi(a.audience)).toStrictEqual(a)
        expect(await store.getApi(b.audience)).toStrictEqual(b)
        const listed = await store.listApis()
        expect(listed).toHaveLength(2)
        expect(listed).toContainEqual(a)
        expect(listed).toContainEqual(b)
      })

      it('upsert replaces the record of the same audience', async () => {
        const a = apiRecord()
        await store.upsertApi(a)
        const changed = apiRecord({ audience: a.audience, accessTokenTtlSeconds: 60, name: 'x' })
        await store.upsertApi(changed)
        expect(await store.getApi(a.audience)).toStrictEqual(changed)
        expect(await store.listApis()).toStrictEqual([changed])
      })

      it('delete reports whether an API was there', async () => {
        const a = apiRecord()
        await store.upsertApi(a)
        expect((await store.writeApi({ delete: a.audience })).ok).toBe(true)
        expect(await store.getApi(a.audience)).toBeUndefined()
        expect(await store.writeApi({ delete: a.audience })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
      })
    })

    describe('users', () => {
      it('round-trips every field, including nulls and nested metadata', async () => {
        const full = userRecord()
        const sparse = userRecord({ email: null, name: null, disabled: false, metadata: {} })
        await store.createUser(full)
        await store.createUser(sparse)
        expect(await store.getUser(full.id)).toStrictEqual(full)
        expect(await store.getUser(sparse.id)).toStrictEqual(sparse)
        expect(await store.getUserByUsername(full.username)).toStrictEqual(full)
      })

      it('username lookup is case-insensitive and keeps the spelling given', async () => {
        const u = userRecord({ username: 'Alice.Example' })
        await store.createUser(u)
        for (const spelling of ['alice.example', 'ALICE.EXAMPLE', 'aLiCe.ExAmPlE']) {
          expect((await store.getUserByUsername(spelling))?.id).toBe(u.id)
        }
        expect((await store.getUser(u.id))?.username).toBe('Alice.Example')
        expect(await store.getUserByUsername('alice')).toBeUndefined()
      })

      it('a username differing only in case is refused and leaves the first user intact', async () => {
        const first = userRecord({ username: 'bob' })
        await store.createUser(first)
        const second = userRecord({ username: 'BOB' })
        await expect(store.createUser(second)).rejects.toThrow()
        expect(await store.getUser(second.id)).toBeUndefined()
        expect(await store.getUserByUsername('Bob')).toStrictEqual(first)
        expect(await store.listUsers()).toHaveLength(1)
      })

      it('a duplicate id is refused', async () => {
        const u = userRecord()
        await store.createUser(u)
        await expect(store.createUser(userRecord({ id: u.id }))).rejects.toThrow()
        expect(await store.getUser(u.id)).toStrictEqual(u)
      })

      it('update replaces every mutable field, including the username', async () => {
        const u = userRecord({ username: 'carol' })
        await store.createUser(u)
        const changed = userRecord({
          id: u.id,
          username: 'Caroline',
          email: null,
          name: null,
          disabled: false,
          metadata: { roles: [] },
          passwordChangedAt: FAR + 1,
          emailVerifiedAt: null,
          createdAt: u.createdAt,
          updatedAt: FAR + 2,
        })
        await store.updateUser(changed)
        expect(await store.getUser(u.id)).toStrictEqual(changed)
        expect(await store.getUserByUsername('carol')).toBeUndefined()
        expect((await store.getUserByUsername('CAROLINE'))?.id).toBe(u.id)
      })

      it("a read allowed to be stale still sees this store's own updates and deletes at once", async () => {
        const u = userRecord({ username: 'stale-reader' })
        await store.createUser(u)
        expect(await store.getUser(u.id, { maxStaleMs: 60_000 })).toStrictEqual(u)
        const disabled = { ...u, disabled: true, updatedAt: u.updatedAt + 1 }
        await store.updateUser(disabled)
        expect(await store.getUser(u.id, { maxStaleMs: 60_000 })).toStrictEqual(disabled)
        expect(await store.deleteUser(u.id)).toBe(true)
        expect(await store.getUser(u.id, { maxStaleMs: 60_000 })).toBeUndefined()
      })

      it('update to a username another user holds (in any case) is refused', async () => {
        const a = userRecord({ username: 'dave' })
        const b = userRecord({ username: 'erin' })
        await store.createUser(a)
        await store.createUser(b)
        await expect(store.updateUser({ ...b, username: 'DAVE' })).rejects.toThrow()
        expect(await store.getUser(b.id)).toStrictEqual(b)
      })

      it('delete reports whether a user was there; list honours the limit', async () => {
        const users = [userRecord(), userRecord(), userRecord()]
        for (const u of users) await store.createUser(u)
        expect(await store.listUsers({ limit: 2 })).toHaveLength(2)
        const all = await store.listUsers()
        expect(all.map((u) => u.id).sort()).toStrictEqual(users.map((u) => u.id).sort())
        expect(await store.deleteUser(users[0]!.id)).toBe(true)
        expect(await store.deleteUser(users[0]!.id)).toBe(false)
        expect(await store.getUser(users[0]!.id)).toBeUndefined()
        expect(await store.getUserByUsername(users[0]!.username)).toBeUndefined()
        expect(await store.listUsers()).toHaveLength(2)
      })
    })

    describe('browser sessions', () => {
      it('round-trips every field, open and ended', async () => {
        const open = browserSessionRecord(uid('usr_'))
        const ended = browserSessionRecord(uid('usr_'), { amr: [], endedAt: FAR + 5 })
        await store.createBrowserSession(open)
        await store.createBrowserSession(ended)
        expect(await store.getBrowserSession(open.id)).toStrictEqual(open)
        expect(await store.getBrowserSession(ended.id)).toStrictEqual(ended)
        expect(await store.getBrowserSession('no-such')).toBeUndefined()
      })

      it('touch moves lastActiveAt of an open session only', async () => {
        const bs = browserSessionRecord(uid('usr_'))
        await store.createBrowserSession(bs)
        await store.touchBrowserSession(bs.id, FAR)
        expect(await store.getBrowserSession(bs.id)).toStrictEqual({ ...bs, lastActiveAt: FAR })
        expect(await store.endBrowserSession(bs.id, FAR + 1)).toBe(true)
        await store.touchBrowserSession(bs.id, FAR + 2)
        expect(await store.getBrowserSession(bs.id)).toStrictEqual({
          ...bs,
          lastActiveAt: FAR,
          endedAt: FAR + 1,
        })
      })

      it('end succeeds once and keeps the first end time', async () => {
        const bs = browserSessionRecord(uid('usr_'))
        await store.createBrowserSession(bs)
        expect(await store.endBrowserSession(bs.id, T0 + 100)).toBe(true)
        expect(await store.endBrowserSession(bs.id, T0 + 200)).toBe(false)
        expect((await store.getBrowserSession(bs.id))?.endedAt).toBe(T0 + 100)
        expect(await store.endBrowserSession('no-such', T0)).toBe(false)
      })
    })

    describe('authorization codes', () => {
      it('round-trips every field, including nulls', async () => {
        const full = codeRecord()
        const sparse = codeRecord({
          browserSessionId: null,
          nonce: null,
          userAgent: null,
          ip: null,
          resources: [],
          amr: [],
        })
        await store.createCode(full)
        await store.createCode(sparse)
        expect(await store.getCode(full.codeHash)).toStrictEqual(full)
        expect(await store.getCode(sparse.codeHash)).toStrictEqual(sparse)
        expect(await store.getCode('no-such')).toBeUndefined()
      })

      it('redeemCode consumes the code and creates the session', async () => {
        const code = codeRecord()
        await store.createCode(code)
        const s = sessionRecord({ generation: 0, graceUses: 0 })
        expect(await store.redeemCode(code.codeHash, T0 + 500, s)).toStrictEqual({ ok: true })
        expect(await store.getCode(code.codeHash)).toStrictEqual({
          ...code,
          consumedAt: T0 + 500,
          sessionId: s.id,
        })
        expect(await store.getSession(s.id)).toStrictEqual(s)
      })

      it('a code of a browser session that has signed out is consumed without a session', async () => {
        const bs = browserSessionRecord(uid('usr_'))
        await store.createBrowserSession(bs)
        const code = codeRecord({ userId: bs.userId })
        await store.createCode(code)
        expect(await store.endBrowserSession(bs.id, T0 + 1)).toBe(true)
        const s = sessionRecord({ userId: bs.userId, browserSessionId: bs.id })
        expect(await store.redeemCode(code.codeHash, T0 + 2, s)).toStrictEqual({
          ok: false,
          reason: 'signed_out',
        })
        expect(await store.getSession(s.id)).toBeUndefined()
        expect(await store.getCode(code.codeHash)).toMatchObject({
          consumedAt: T0 + 2,
          sessionId: null,
        })
        // Presented again it is an ordinary used code, with no session to revoke.
        expect(await store.redeemCode(code.codeHash, T0 + 3, sessionRecord())).toStrictEqual({
          ok: false,
          reason: 'consumed',
          sessionId: null,
        })
      })

      it('a second redemption is consumed with the first session id and writes no session', async () => {
        const code = codeRecord()
        await store.createCode(code)
        const first = sessionRecord()
        const second = sessionRecord()
        expect(await store.redeemCode(code.codeHash, T0 + 1, first)).toStrictEqual({ ok: true })
        expect(await store.redeemCode(code.codeHash, T0 + 2, second)).toStrictEqual({
          ok: false,
          reason: 'consumed',
          sessionId: first.id,
        })
        expect(await store.getSession(second.id)).toBeUndefined()
        expect((await store.getCode(code.codeHash))?.consumedAt).toBe(T0 + 1)
      })

      it('an unknown code is unknown and writes no session', async () => {
        const s = sessionRecord()
        expect(await store.redeemCode('no-such-code', T0, s)).toStrictEqual({
          ok: false,
          reason: 'unknown',
        })
        expect(await store.getSession(s.id)).toBeUndefined()
      })

      it(`${RACERS} concurrent redemptions of one code: exactly one wins, no loser writes a session`, async () => {
        const code = codeRecord()
        await store.createCode(code)
        const sessions = Array.from({ length: RACERS }, () => sessionRecord())
        const results = await race(RACERS, (i) =>
          store.redeemCode(code.codeHash, T0 + i, sessions[i]!),
        )
        const winners = results.flatMap((r, i) => (r.ok ? [i] : []))
        expect(winners).toHaveLength(1)
        const winner = sessions[winners[0]!]!
        for (const [i, r] of results.entries()) {
          if (i === winners[0]) continue
          expect(r).toStrictEqual({ ok: false, reason: 'consumed', sessionId: winner.id })
          expect(await store.getSession(sessions[i]!.id)).toBeUndefined()
        }
        expect(await store.getSession(winner.id)).toStrictEqual(winner)
        expect((await store.getCode(code.codeHash))?.sessionId).toBe(winner.id)
        const all = await store.listSessions({ userId: winner.userId })
        expect(all.map((s) => s.id)).toStrictEqual([winner.id])
      })

      it('redeemCode is atomic: when the session cannot be written the code stays unconsumed', async () => {
        const existing = sessionRecord()
        await store.createSession(existing)
        const code = codeRecord()
        await store.createCode(code)
        // Same session id as a row that exists: the insert fails inside the transaction.
        const clash = sessionRecord({ id: existing.id, userId: uid('usr_') })
        await expect(store.redeemCode(code.codeHash, T0 + 1, clash)).rejects.toThrow()
        expect(await store.getCode(code.codeHash)).toStrictEqual(code)
        expect(await store.getSession(existing.id)).toStrictEqual(existing)
        const fresh = sessionRecord()
        expect(await store.redeemCode(code.codeHash, T0 + 2, fresh)).toStrictEqual({ ok: true })
      })

      it('deleteExpiredCodes removes codes long expired, keeps live ones, and counts', async () => {
        const now = T0 + 10 * 86_400_000
        const live = codeRecord({ expiresAt: now + 60_000 })
        const old1 = codeRecord({ expiresAt: now - 3 * 86_400_000 })
        const old2 = codeRecord({
          expiresAt: now - 2 * 86_400_000,
          consumedAt: now - 3 * 86_400_000,
          sessionId: uid(''),
        })
        for (const c of [live, old1, old2]) await store.createCode(c)
        expect(await store.deleteExpiredCodes(now)).toBe(2)
        expect(await store.getCode(live.codeHash)).toStrictEqual(live)
        expect(await store.getCode(old1.codeHash)).toBeUndefined()
        expect(await store.getCode(old2.codeHash)).toBeUndefined()
        expect(await store.deleteExpiredCodes(now)).toBe(0)
      })
    })

    webhookOutboxConformance(() => store, RACERS)
    retentionConformance(() => store)
    accountStoreConformance(() => store, RACERS)

    describe('sessions', () => {
      it('round-trips every field of an active and of an ended session', async () => {
        const active = sessionRecord()
        const ended = sessionRecord({
          state: 'revoked',
          reason: 'refresh_token_reuse',
          endedAt: FAR + 1,
          browserSessionId: null,
          userAgent: null,
          ip: null,
          resources: [],
          amr: [],
          generation: 123_456,
          dpopJkt: null,
        })
        await store.createSession(active)
        await store.createSession(ended)
        expect(await store.getSession(active.id)).toStrictEqual(active)
        expect(await store.getSession(ended.id)).toStrictEqual(ended)
        expect(await store.getSession('no-such')).toBeUndefined()
      })

      it('a duplicate session id is refused', async () => {
        const s = sessionRecord()
        await store.createSession(s)
        await expect(store.createSession(sessionRecord({ id: s.id }))).rejects.toThrow()
        expect(await store.getSession(s.id)).toStrictEqual(s)
      })
    })

    describe('rotateRefresh', () => {
      it('advances the generation by one, stamps the time and resets grace uses', async () => {
        const s = sessionRecord({ generation: 4, graceUses: 3 })
        await store.createSession(s)
        const r = await store.rotateRefresh(s.id, 4, T0 + 10_000)
        const expected: SessionRecord = {
          ...s,
          generation: 5,
          rotatedAt: T0 + 10_000,
          lastActiveAt: T0 + 10_000,
          graceUses: 0,
        }
        expect(r).toStrictEqual({ ok: true, session: expected })
        expect(await store.getSession(s.id)).toStrictEqual(expected)
      })

      it('a stale or future expected generation does not rotate', async () => {
        const s = sessionRecord({ generation: 4 })
        await store.createSession(s)
        expect(await store.rotateRefresh(s.id, 3, FAR)).toStrictEqual({ ok: false })
        expect(await store.rotateRefresh(s.id, 5, FAR)).toStrictEqual({ ok: false })
        expect(await store.rotateRefresh('no-such', 4, FAR)).toStrictEqual({ ok: false })
        expect(await store.getSession(s.id)).toStrictEqual(s)
      })

      it(`${RACERS} concurrent rotations with the same expected generation: exactly one wins`, async () => {
        const s = sessionRecord({ generation: 0, graceUses: 0 })
        await store.createSession(s)
        const results = await race(RACERS, (i) => store.rotateRefresh(s.id, 0, T0 + 1000 + i))
        const wins = results.filter((r) => r.ok)
        expect(wins).toHaveLength(1)
        const after = await mustGetSession(s.id)
        expect(after.generation).toBe(1)
        expect(wins[0]).toStrictEqual({ ok: true, session: after })
      })

      it('successive rotations chain: each needs the generation the previous one produced', async () => {
        const s = sessionRecord({ generation: 0 })
        await store.createSession(s)
        for (let g = 0; g < 5; g++) {
          const r = await store.rotateRefresh(s.id, g, T0 + g)
          expect(r.ok && r.session.generation).toBe(g + 1)
          expect(await store.rotateRefresh(s.id, g, T0 + g)).toStrictEqual({ ok: false })
        }
        expect((await mustGetSession(s.id)).generation).toBe(5)
      })

      it('an ended session never rotates, whatever its state', async () => {
        for (const state of ENDED_STATES) {
          const s = sessionRecord({ state, reason: 'admin', endedAt: T0 + 50, generation: 2 })
          await store.createSession(s)
          expect(await store.rotateRefresh(s.id, 2, FAR)).toStrictEqual({ ok: false })
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
      })

      it('a session past its absolute or idle end at `now` does not rotate (boundaries as judgeSession)', async () => {
        const absolute = sessionRecord({ generation: 1, lastActiveAt: T0, expiresAt: T0 + 5000 })
        await store.createSession(absolute)
        expect(await store.rotateRefresh(absolute.id, 1, T0 + 5000)).toStrictEqual({ ok: false })
        expect(await store.getSession(absolute.id)).toStrictEqual(absolute)
        expect((await store.rotateRefresh(absolute.id, 1, T0 + 4999)).ok).toBe(true)

        // A months-long idle timeout: its end in milliseconds does not fit 32 bits.
        const idle = sessionRecord({ generation: 1, lastActiveAt: T0, idleSeconds: 90 * 86_400 })
        const idleEnd = T0 + 90 * 86_400_000
        await store.createSession(idle)
        expect(await store.rotateRefresh(idle.id, 1, idleEnd)).toStrictEqual({ ok: false })
        expect(await store.getSession(idle.id)).toStrictEqual(idle)
        expect((await store.rotateRefresh(idle.id, 1, idleEnd - 1)).ok).toBe(true)
      })

      it('a pending session does not rotate (only active does)', async () => {
        const s = sessionRecord({ state: 'pending', generation: 2 })
        await store.createSession(s)
        expect(await store.rotateRefresh(s.id, 2, FAR)).toStrictEqual({ ok: false })
        expect(await store.getSession(s.id)).toStrictEqual(s)
      })

      it('a session ended concurrently with rotations ends up ended, whatever won', async () => {
        const s = sessionRecord({ generation: 0 })
        await store.createSession(s)
        const [ended, ...rotations] = await Promise.all([
          store.endSession(s.id, 'revoked', 'refresh_token_reuse', T0 + 5),
          ...Array.from({ length: 5 }, () => store.rotateRefresh(s.id, 0, T0 + 6)),
        ])
        expect(ended).toBe(true)
        const after = await mustGetSession(s.id)
        expect(after.state).toBe('revoked')
        expect(after.generation).toBe(rotations.filter((r) => r.ok).length)
        expect(after.generation).toBeLessThanOrEqual(1)
        expect(await store.rotateRefresh(s.id, after.generation, T0 + 7)).toStrictEqual({
          ok: false,
        })
      })
    })

    describe('useGrace', () => {
      it('counts replays up to the limit, then refuses', async () => {
        const s = sessionRecord({ generation: 3, graceUses: 0 })
        await store.createSession(s)
        expect(await store.useGrace(s.id, 3, 2, FAR + 1)).toBe(true)
        expect(await store.useGrace(s.id, 3, 2, FAR + 2)).toBe(true)
        expect(await store.useGrace(s.id, 3, 2, FAR + 3)).toBe(false)
        expect(await store.getSession(s.id)).toStrictEqual({
          ...s,
          graceUses: 2,
          lastActiveAt: FAR + 2,
        })
      })

      it('refuses when the session has moved to another generation', async () => {
        const s = sessionRecord({ generation: 3, graceUses: 0 })
        await store.createSession(s)
        expect(await store.useGrace(s.id, 2, 10, FAR)).toBe(false)
        expect(await store.useGrace(s.id, 4, 10, FAR)).toBe(false)
        expect(await store.useGrace('no-such', 3, 10, FAR)).toBe(false)
        expect(await store.getSession(s.id)).toStrictEqual(s)
      })

      it('refuses on an ended session', async () => {
        for (const state of ENDED_STATES) {
          const s = sessionRecord({ state, reason: 'admin', endedAt: T0, graceUses: 0 })
          await store.createSession(s)
          expect(await store.useGrace(s.id, s.generation, 10, FAR)).toBe(false)
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
      })

      it('a rotation resets the count, and replays of the old generation stop counting', async () => {
        const s = sessionRecord({ generation: 1, graceUses: 0 })
        await store.createSession(s)
        expect(await store.useGrace(s.id, 1, 2, T0 + 1)).toBe(true)
        expect(await store.useGrace(s.id, 1, 2, T0 + 2)).toBe(true)
        expect(await store.useGrace(s.id, 1, 2, T0 + 3)).toBe(false)
        const r = await store.rotateRefresh(s.id, 1, T0 + 4)
        expect(r.ok && r.session.graceUses).toBe(0)
        expect(await store.useGrace(s.id, 1, 2, T0 + 5)).toBe(false)
        expect(await store.useGrace(s.id, 2, 2, T0 + 6)).toBe(true)
        expect((await mustGetSession(s.id)).graceUses).toBe(1)
      })

      it(`${RACERS} concurrent replays with a limit of 3: exactly 3 are counted`, async () => {
        const s = sessionRecord({ generation: 1, graceUses: 0 })
        await store.createSession(s)
        const results = await race(RACERS, (i) => store.useGrace(s.id, 1, 3, T0 + i))
        expect(results.filter(Boolean)).toHaveLength(3)
        expect((await mustGetSession(s.id)).graceUses).toBe(3)
      })
    })

    describe('endSession', () => {
      it('ends an active session with state, reason and time, and records the event', async () => {
        const s = sessionRecord()
        await store.createSession(s)
        const ev = eventRecord({ type: 'session_revoked', sessionId: s.id, userId: s.userId })
        expect(await store.endSession(s.id, 'revoked', 'admin', FAR + 1, ev)).toBe(true)
        expect(await store.getSession(s.id)).toStrictEqual({
          ...s,
          state: 'revoked',
          reason: 'admin',
          endedAt: FAR + 1,
        })
        expect(await store.listEvents({ sessionId: s.id })).toStrictEqual([ev])
      })

      it('ends a pending session too', async () => {
        const s = sessionRecord({ state: 'pending' })
        await store.createSession(s)
        expect(await store.endSession(s.id, 'ended', 'sign_out', T0 + 1)).toBe(true)
        expect((await mustGetSession(s.id)).state).toBe('ended')
      })

      it('is idempotent: a second end changes nothing and returns false, but its event is kept', async () => {
        const s = sessionRecord()
        await store.createSession(s)
        const e1 = eventRecord({ sessionId: s.id, at: T0 + 1 })
        const e2 = eventRecord({ sessionId: s.id, at: T0 + 2 })
        expect(await store.endSession(s.id, 'ended', 'sign_out', T0 + 1, e1)).toBe(true)
        expect(await store.endSession(s.id, 'revoked', 'refresh_token_reuse', T0 + 2, e2)).toBe(
          false,
        )
        const after = await mustGetSession(s.id)
        expect([after.state, after.reason, after.endedAt]).toStrictEqual([
          'ended',
          'sign_out',
          T0 + 1,
        ])
        expect(await store.listEvents({ sessionId: s.id })).toStrictEqual([e2, e1])
      })

      it("with eventWhen 'ended' the event is kept only by the call that ended the session (a race with a sweep records one end)", async () => {
        const s = sessionRecord()
        await store.createSession(s)
        // A sweep (or an admin) got there first.
        const swept = eventRecord({ type: 'session_expired', sessionId: s.id, at: T0 + 1 })
        expect(await store.endSession(s.id, 'expired', 'idle_timeout', T0 + 1, swept)).toBe(true)
        const late = eventRecord({ type: 'session_expired', sessionId: s.id, at: T0 + 2 })
        expect(
          await store.endSession(s.id, 'expired', 'idle_timeout', T0 + 2, late, T0 + 1, 'ended'),
        ).toBe(false)
        expect(await store.listEvents({ sessionId: s.id })).toStrictEqual([swept])
        // And when it does end the session, the event is kept with it.
        const t = sessionRecord()
        await store.createSession(t)
        const ended = eventRecord({ type: 'session_revoked', sessionId: t.id, at: T0 + 3 })
        expect(
          await store.endSession(t.id, 'revoked', 'user', T0 + 3, ended, T0 + 3, 'ended'),
        ).toBe(true)
        expect(await store.listEvents({ sessionId: t.id })).toStrictEqual([ended])
      })

      it('never moves a session out of any ended state', async () => {
        for (const state of ENDED_STATES) {
          const s = sessionRecord({ state, reason: 'idle_timeout', endedAt: T0 + 3 })
          await store.createSession(s)
          expect(await store.endSession(s.id, 'revoked', 'admin', T0 + 4)).toBe(false)
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
        expect(await store.endSession('no-such', 'revoked', 'admin', T0)).toBe(false)
      })

      it('writes the event in the same transaction: a failing event write leaves the session active', async () => {
        const s = sessionRecord()
        await store.createSession(s)
        const taken = eventRecord()
        await store.recordEvent(taken)
        // An event whose id exists already cannot be written, so the whole end must roll back.
        const clash = eventRecord({ id: taken.id, sessionId: s.id })
        await expect(store.endSession(s.id, 'revoked', 'admin', T0 + 1, clash)).rejects.toThrow()
        expect(await store.getSession(s.id)).toStrictEqual(s)
        expect(await store.listEvents({ sessionId: s.id })).toStrictEqual([])
      })

      it(`${RACERS} concurrent ends of one session: exactly one returns true`, async () => {
        const s = sessionRecord()
        await store.createSession(s)
        const results = await race(RACERS, (i) =>
          store.endSession(s.id, 'revoked', 'refresh_token_reuse', T0 + i),
        )
        expect(results.filter(Boolean)).toHaveLength(1)
        const winner = results.indexOf(true)
        expect((await mustGetSession(s.id)).endedAt).toBe(T0 + winner)
      })
    })

    describe('endSessions', () => {
      async function population() {
        const userA = uid('usr_')
        const userB = uid('usr_')
        const bs1 = uid('bs-')
        const bs2 = uid('bs-')
        const rows = {
          a1: sessionRecord({ userId: userA, browserSessionId: bs1 }),
          a2: sessionRecord({ userId: userA, browserSessionId: bs2, state: 'pending' }),
          a3: sessionRecord({ userId: userA, browserSessionId: null }),
          aEnded: sessionRecord({
            userId: userA,
            browserSessionId: bs1,
            state: 'ended',
            reason: 'sign_out',
            endedAt: T0 + 1,
          }),
          b1: sessionRecord({ userId: userB, browserSessionId: bs1 }),
          b2: sessionRecord({ userId: userB, browserSessionId: null }),
        }
        for (const s of Object.values(rows)) await store.createSession(s)
        return { userA, userB, bs1, bs2, rows }
      }

      it('by user: ends active and pending sessions of that user only, returning their ids', async () => {
        const { userA, rows } = await population()
        const ids = await store.endSessions({ userId: userA }, 'revoked', 'user_disabled', FAR)
        expect([...ids].sort()).toStrictEqual([rows.a1.id, rows.a2.id, rows.a3.id].sort())
        for (const s of [rows.a1, rows.a2, rows.a3]) {
          expect(await store.getSession(s.id)).toStrictEqual({
            ...s,
            state: 'revoked',
            reason: 'user_disabled',
            endedAt: FAR,
          })
        }
        for (const s of [rows.aEnded, rows.b1, rows.b2]) {
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
        expect(
          await store.endSessions({ userId: userA }, 'revoked', 'admin', FAR + 1),
        ).toStrictEqual([])
      })

      it('by user except one: the excepted session stays active', async () => {
        const { userA, rows } = await population()
        const ids = await store.endSessions(
          { userId: userA, exceptId: rows.a1.id },
          'revoked',
          'password_change',
          FAR,
        )
        expect([...ids].sort()).toStrictEqual([rows.a2.id, rows.a3.id].sort())
        expect(await store.getSession(rows.a1.id)).toStrictEqual(rows.a1)
      })

      it('relinkSessions moves only the live sessions of one browser session to another', async () => {
        const { bs1, rows } = await population()
        const bs3 = uid('bs-')
        expect(await store.relinkSessions(bs1, bs3)).toBe(2)
        expect((await store.getSession(rows.a1.id))?.browserSessionId).toBe(bs3)
        expect((await store.getSession(rows.b1.id))?.browserSessionId).toBe(bs3)
        // ended sessions and other browser sessions stay where they were
        expect(await store.getSession(rows.aEnded.id)).toStrictEqual(rows.aEnded)
        expect(await store.getSession(rows.a2.id)).toStrictEqual(rows.a2)
        expect(await store.relinkSessions(bs1, bs3)).toBe(0)
      })

      it('by browser session: ends the sessions of that sign-on across users', async () => {
        const { bs1, rows } = await population()
        const ids = await store.endSessions({ browserSessionId: bs1 }, 'ended', 'sign_out', FAR)
        expect([...ids].sort()).toStrictEqual([rows.a1.id, rows.b1.id].sort())
        for (const s of [rows.a2, rows.a3, rows.aEnded, rows.b2]) {
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
      })

      it('user and browser session together must both match', async () => {
        const { userB, bs1, rows } = await population()
        const ids = await store.endSessions(
          { userId: userB, browserSessionId: bs1 },
          'ended',
          'sign_out',
          FAR,
        )
        expect(ids).toStrictEqual([rows.b1.id])
        expect(await store.getSession(rows.a1.id)).toStrictEqual(rows.a1)
      })

      it('refuses a filter with neither user nor browser session rather than ending everything', async () => {
        const { rows } = await population()
        await expect(store.endSessions({}, 'revoked', 'admin', FAR)).rejects.toThrow()
        await expect(
          store.endSessions({ exceptId: rows.a1.id }, 'revoked', 'admin', FAR),
        ).rejects.toThrow()
        for (const s of Object.values(rows)) {
          expect(await store.getSession(s.id)).toStrictEqual(s)
        }
      })
    })

    describe('listSessions', () => {
      it('filters by user, client, state and browser session, newest first', async () => {
        const user = uid('usr_')
        const bs = uid('bs-')
        const s1 = sessionRecord({ userId: user, createdAt: T0 + 1, browserSessionId: bs })
        const s2 = sessionRecord({ userId: user, createdAt: T0 + 3, clientId: 'native-app' })
        const s3 = sessionRecord({
          userId: user,
          createdAt: T0 + 2,
          browserSessionId: bs,
          state: 'revoked',
          reason: 'admin',
          endedAt: T0 + 9,
        })
        const other = sessionRecord({ createdAt: T0 + 4, browserSessionId: bs })
        for (const s of [s1, s2, s3, other]) await store.createSession(s)

        expect(await store.listSessions({ userId: user })).toStrictEqual([s2, s3, s1])
        expect(await store.listSessions({ userId: user, clientId: 'web-app' })).toStrictEqual([
          s3,
          s1,
        ])
        expect(await store.listSessions({ userId: user, state: 'active' })).toStrictEqual([s2, s1])
        expect(await store.listSessions({ state: 'revoked' })).toStrictEqual([s3])
        expect(await store.listSessions({ browserSessionId: bs })).toStrictEqual([other, s3, s1])
        expect(await store.listSessions({ clientId: 'native-app' })).toStrictEqual([s2])
        expect(await store.listSessions({ userId: uid('usr_') })).toStrictEqual([])
        expect(await store.listSessions({})).toStrictEqual([other, s2, s3, s1])
      })

      it('after is a keyset cursor: events sharing a timestamp are never skipped across pages', async () => {
        const user = uid('usr_')
        // Three events at one instant and two around them, pages of two.
        const at = [T0 + 20, T0 + 10, T0 + 10, T0 + 10, T0]
        const events = at.map((t) => eventRecord({ userId: user, at: t }))
        for (const e of events) await store.recordEvent(e)
        const expected = [...events].sort((a, b) => b.at - a.at || (a.id < b.id ? -1 : 1))
        const seen: string[] = []
        let after: { at: number; id: string } | undefined
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.listEvents({
            userId: user,
            limit: 2,
            ...(after ? { after } : {}),
          })
          if (page.length === 0) break
          seen.push(...page.map((e) => e.id))
          const last = page[page.length - 1]!
          after = { at: last.at, id: last.id }
        }
        expect(seen).toStrictEqual(expected.map((e) => e.id))
      })

      it('honours the limit, keeping the newest', async () => {
        const user = uid('usr_')
        const rows = Array.from({ length: 5 }, (_, i) =>
          sessionRecord({ userId: user, createdAt: T0 + i * 1000 }),
        )
        for (const s of rows) await store.createSession(s)
        expect(await store.listSessions({ userId: user, limit: 2 })).toStrictEqual([
          rows[4],
          rows[3],
        ])
      })
    })

    describe('sweepSessions', () => {
      const NOW = T0 + 30 * 86_400_000
      const H = 3_600_000

      /** A session whose absolute lifetime ends at `expiresAt` and idle timeout at `idleEnd`. */
      const ending = (expiresAt: number, idleEnd: number, o: Partial<SessionRecord> = {}) =>
        sessionRecord({ expiresAt, idleSeconds: 3600, lastActiveAt: idleEnd - H, ...o })

      it('ends each session past a limit, dated when that limit ran out, exactly as judgeSession decides', async () => {
        const rows = {
          expired: ending(NOW - 1000, NOW + H),
          abandoned: ending(FAR, NOW - 5),
          idleFirst: ending(NOW - 100, NOW - 200),
          absoluteFirst: ending(NOW - 300, NOW - 200),
          sameMoment: ending(NOW - 50, NOW - 50),
          expiresNow: ending(NOW, NOW + H),
          idleNow: ending(FAR, NOW),
          pendingExpired: ending(NOW - 1, NOW + H, { state: 'pending' }),
          live: ending(NOW + 1, NOW + 1),
          alreadyEnded: ending(NOW - H, NOW - H, {
            state: 'revoked',
            reason: 'admin',
            endedAt: NOW - 2 * H,
          }),
        }
        for (const r of Object.values(rows)) await store.createSession(r)

        expect(await store.sweepSessions(NOW)).toStrictEqual({ expired: 5, abandoned: 3 })

        const ended = (r: SessionRecord, state: SessionState, endedAt: number): SessionRecord => ({
          ...r,
          state,
          reason: state === 'expired' ? 'absolute_lifetime' : 'idle_timeout',
          endedAt,
        })
        const expected: Record<keyof typeof rows, SessionRecord> = {
          expired: ended(rows.expired, 'expired', NOW - 1000),
          abandoned: ended(rows.abandoned, 'abandoned', NOW - 5),
          idleFirst: ended(rows.idleFirst, 'abandoned', NOW - 200),
          absoluteFirst: ended(rows.absoluteFirst, 'expired', NOW - 300),
          sameMoment: ended(rows.sameMoment, 'expired', NOW - 50),
          expiresNow: ended(rows.expiresNow, 'expired', NOW),
          idleNow: ended(rows.idleNow, 'abandoned', NOW),
          pendingExpired: ended(rows.pendingExpired, 'expired', NOW - 1),
          live: rows.live,
          alreadyEnded: rows.alreadyEnded,
        }
        for (const [k, r] of Object.entries(rows)) {
          const after = await store.getSession(r.id)
          expect(after, k).toStrictEqual(expected[k as keyof typeof rows])
          // The request path (judgeSession) reaches the same verdict on the row as it was.
          const v = judgeSession(r, NOW)
          if (r.state === 'active' || r.state === 'pending') {
            expect(v.live ? 'active' : [v.state, v.reason, v.at], k).toStrictEqual(
              v.live ? after!.state : [after!.state, after!.reason, after!.endedAt],
            )
          }
        }
        expect(await store.sweepSessions(NOW)).toStrictEqual({ expired: 0, abandoned: 0 })
      })

      it('an idle timeout of months (idle seconds * 1000 beyond 32 bits) ends on time', async () => {
        const idleSeconds = 90 * 86_400
        const gone = sessionRecord({
          expiresAt: FAR,
          idleSeconds,
          lastActiveAt: NOW - idleSeconds * 1000 - 5,
        })
        const kept = sessionRecord({ expiresAt: FAR, idleSeconds, lastActiveAt: NOW - H })
        await store.createSession(gone)
        await store.createSession(kept)
        expect(await store.sweepSessions(NOW)).toStrictEqual({ expired: 0, abandoned: 1 })
        expect(await store.getSession(gone.id)).toStrictEqual({
          ...gone,
          state: 'abandoned',
          reason: 'idle_timeout',
          endedAt: NOW - 5,
        })
        expect(await store.getSession(kept.id)).toStrictEqual(kept)
      })

      it('an empty store sweeps nothing', async () => {
        expect(await store.sweepSessions(NOW)).toStrictEqual({ expired: 0, abandoned: 0 })
      })
    })

    describe('security events', () => {
      it('round-trips every field, including nulls', async () => {
        const full = eventRecord()
        const sparse = eventRecord({
          type: 'throttled',
          userId: null,
          clientId: null,
          sessionId: null,
          ip: null,
          userAgent: null,
          data: {},
          at: FAR,
        })
        await store.recordEvent(full)
        await store.recordEvent(sparse)
        expect(await store.listEvents({})).toStrictEqual([sparse, full])
      })

      it('filters by type, user, session and client, newest first', async () => {
        const user = uid('usr_')
        const sid = uid('')
        const e1 = eventRecord({
          type: 'sign_in_success',
          userId: user,
          sessionId: sid,
          at: T0 + 1,
        })
        const e2 = eventRecord({ type: 'refresh_token_reuse', userId: user, at: T0 + 3 })
        const e3 = eventRecord({
          type: 'sign_out',
          userId: user,
          sessionId: sid,
          clientId: 'native-app',
          at: T0 + 2,
        })
        const e4 = eventRecord({ type: 'refresh_token_reuse', at: T0 + 4 })
        for (const e of [e1, e2, e3, e4]) await store.recordEvent(e)

        expect(await store.listEvents({ userId: user })).toStrictEqual([e2, e3, e1])
        expect(await store.listEvents({ sessionId: sid })).toStrictEqual([e3, e1])
        expect(await store.listEvents({ type: 'refresh_token_reuse' })).toStrictEqual([e4, e2])
        expect(await store.listEvents({ type: 'refresh_token_reuse', userId: user })).toStrictEqual(
          [e2],
        )
        expect(await store.listEvents({ clientId: 'native-app' })).toStrictEqual([e3])
        expect(await store.listEvents({ userId: user, clientId: 'web-app' })).toStrictEqual([
          e2,
          e1,
        ])
      })

      it('before is a strict cursor: pages walk every event once, newest first', async () => {
        const user = uid('usr_')
        const events = Array.from({ length: 7 }, (_, i) =>
          eventRecord({ userId: user, at: T0 + i * 10 }),
        )
        // Inserted out of order: the order comes from `at`, not from insertion.
        for (const i of [3, 0, 6, 1, 5, 2, 4]) await store.recordEvent(events[i]!)
        expect(await store.listEvents({ userId: user, before: T0 + 30 })).toStrictEqual([
          events[2],
          events[1],
          events[0],
        ])

        const seen: string[] = []
        let before: number | undefined
        for (;;) {
          const page = await store.listEvents({ userId: user, limit: 3, before })
          if (page.length === 0) break
          expect(page.length).toBeLessThanOrEqual(3)
          seen.push(...page.map((e) => e.id))
          before = page[page.length - 1]!.at
        }
        expect(seen).toStrictEqual([...events].reverse().map((e) => e.id))
      })

      it('honours the limit, keeping the newest', async () => {
        const user = uid('usr_')
        const events = Array.from({ length: 4 }, (_, i) =>
          eventRecord({ userId: user, at: FAR + i }),
        )
        for (const e of events) await store.recordEvent(e)
        expect(await store.listEvents({ userId: user, limit: 2 })).toStrictEqual([
          events[3],
          events[2],
        ])
      })
    })

    describe('admin: user listing', () => {
      it('search matches username, email or name case-insensitively; % and _ are literal', async () => {
        const ada = userRecord({ username: 'Ada', email: 'ada@Example.test', name: 'Countess' })
        const bob = userRecord({ username: 'bob', email: null, name: 'Bob the 100%' })
        const cat = userRecord({ username: 'cat_1', email: 'cat@other.test', name: null })
        for (const u of [cat, bob, ada]) await store.createUser(u)
        const ids = async (search: string) =>
          (await store.listUsers({ search })).map((u) => u.username)
        expect(await ids('ADA')).toStrictEqual(['Ada'])
        expect(await ids('example.TEST')).toStrictEqual(['Ada'])
        expect(await ids('countess')).toStrictEqual(['Ada'])
        expect(await ids('100%')).toStrictEqual(['bob'])
        expect(await ids('%')).toStrictEqual(['bob'])
        expect(await ids('_')).toStrictEqual(['cat_1'])
        expect(await ids('t_')).toStrictEqual(['cat_1'])
        expect(await ids('zzz')).toStrictEqual([])
        expect(await ids('')).toStrictEqual(['Ada', 'bob', 'cat_1'])
      })

      it('afterUsername pages through users in lower-cased username order, each once', async () => {
        const names = ['delta', 'Alpha', 'charlie', 'Bravo', 'echo']
        for (const n of names) {
          await store.createUser(userRecord({ username: n, email: null, name: null }))
        }
        const seen: string[] = []
        let after: string | undefined
        for (let i = 0; i < 10; i++) {
          const page = await store.listUsers({
            limit: 2,
            ...(after ? { afterUsername: after } : {}),
          })
          if (page.length === 0) break
          seen.push(...page.map((u) => u.username))
          after = page[page.length - 1]!.username.toLowerCase()
        }
        expect(seen).toStrictEqual(['Alpha', 'Bravo', 'charlie', 'delta', 'echo'])
        expect(
          (await store.listUsers({ search: 'a', afterUsername: 'bravo' })).map((u) => u.username),
        ).toStrictEqual(['charlie', 'delta'])
      })
    })

    describe('admin: writeUser and revokeUserSessions', () => {
      /** A user with live and ended sessions, browser sessions and codes, and a bystander. */
      async function signedIn() {
        const user = userRecord({ disabled: false })
        const other = userRecord({ disabled: false })
        for (const u of [user, other]) await store.createUser(u)
        const bs1 = browserSessionRecord(user.id)
        const bs2 = browserSessionRecord(user.id)
        const bsEnded = browserSessionRecord(user.id, { endedAt: T0 + 2 })
        const bsOther = browserSessionRecord(other.id)
        for (const b of [bs1, bs2, bsEnded, bsOther]) await store.createBrowserSession(b)
        const live = [
          sessionRecord({ userId: user.id, browserSessionId: bs1.id }),
          sessionRecord({ userId: user.id, browserSessionId: null, clientId: 'native-app' }),
          sessionRecord({ userId: user.id, state: 'pending' }),
        ]
        const ended = sessionRecord({
          userId: user.id,
          state: 'ended',
          reason: 'sign_out',
          endedAt: T0 + 3,
        })
        const bystander = sessionRecord({ userId: other.id })
        for (const x of [...live, ended, bystander]) await store.createSession(x)
        const open = codeRecord({ userId: user.id })
        const consumedSession = sessionRecord({ userId: user.id })
        const consumed = codeRecord({ userId: user.id })
        const otherCode = codeRecord({ userId: other.id })
        for (const c of [open, consumed, otherCode]) await store.createCode(c)
        expect((await store.redeemCode(consumed.codeHash, T0 + 4, consumedSession)).ok).toBe(true)
        live.push(consumedSession)
        return {
          user,
          other,
          bs1,
          bs2,
          bsEnded,
          bsOther,
          live,
          ended,
          bystander,
          open,
          consumed,
          otherCode,
        }
      }

      const revokeAll = (reason: RevokeAll['reason'], now = FAR): RevokeAll => ({
        reason,
        now,
        event: (s) =>
          eventRecord({
            type: 'session_revoked',
            at: now,
            userId: s.userId,
            clientId: s.clientId,
            sessionId: s.id,
            data: { reason },
          }),
      })

      async function expectRevoked(w: Awaited<ReturnType<typeof signedIn>>, reason: string) {
        for (const s of w.live) {
          expect(await store.getSession(s.id)).toStrictEqual({
            ...(await mustGetSession(s.id)),
            state: 'revoked',
            reason,
            endedAt: FAR,
          })
          const events = await store.listEvents({ sessionId: s.id, type: 'session_revoked' })
          expect(events.map((e) => [e.userId, e.clientId, e.data])).toStrictEqual([
            [s.userId, s.clientId, { reason }],
          ])
        }
        for (const id of [w.bs1.id, w.bs2.id]) {
          expect((await store.getBrowserSession(id))?.endedAt).toBe(FAR)
        }
        expect((await store.getBrowserSession(w.bsEnded.id))?.endedAt).toBe(T0 + 2)
        expect(await store.getSession(w.ended.id)).toStrictEqual(w.ended)
        expect(await store.getCode(w.open.codeHash)).toMatchObject({
          consumedAt: FAR,
          sessionId: null,
        })
        expect(await store.getCode(w.consumed.codeHash)).toMatchObject({ consumedAt: T0 + 4 })
        // The bystander keeps everything.
        expect(await store.getSession(w.bystander.id)).toStrictEqual(w.bystander)
        expect(await store.getBrowserSession(w.bsOther.id)).toStrictEqual(w.bsOther)
        expect(await store.getCode(w.otherCode.codeHash)).toStrictEqual(w.otherCode)
      }

      it('create writes the user and its events; a taken username (any case) writes neither', async () => {
        const u = userRecord({ username: 'Grace' })
        const ev = eventRecord({ type: 'user_created', userId: u.id })
        expect(await store.writeUser({ create: u }, { events: [ev] })).toStrictEqual({
          ok: true,
          endedSessionIds: [],
          endedBrowserSessions: 0,
        })
        expect(await store.getUser(u.id)).toStrictEqual(u)
        const twin = userRecord({ username: 'GRACE' })
        const ev2 = eventRecord({ type: 'user_created', userId: twin.id })
        expect(await store.writeUser({ create: twin }, { events: [ev2] })).toStrictEqual({
          ok: false,
          reason: 'exists',
        })
        expect(await store.getUser(twin.id)).toBeUndefined()
        expect(await store.listEvents({ type: 'user_created' })).toStrictEqual([ev])
      })

      it('update or delete of an unknown user is not_found and writes no event', async () => {
        const ghost = userRecord()
        const ev = eventRecord({ type: 'user_updated' })
        expect(await store.writeUser({ update: ghost }, { events: [ev] })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
        expect(
          await store.writeUser(
            { delete: ghost.id },
            { revoke: revokeAll('user_deleted'), events: [ev] },
          ),
        ).toStrictEqual({ ok: false, reason: 'not_found' })
        expect(await store.listEvents({})).toStrictEqual([])
        expect(await store.getUser(ghost.id)).toBeUndefined()
      })

      it('an update with expectedUpdatedAt writes only over that version: a stale one is changed and writes nothing', async () => {
        const u = userRecord({ updatedAt: T0 + 1 })
        await store.createUser(u)
        const disabled = { ...u, disabled: true, updatedAt: T0 + 2 }
        expect((await store.writeUser({ update: disabled, expectedUpdatedAt: T0 + 1 })).ok).toBe(
          true,
        )
        // A write based on the record as it was before the disable must not re-enable the user.
        const stale = { ...u, name: 'renamed', updatedAt: T0 + 3 }
        const ev = eventRecord({ type: 'user_updated' })
        expect(
          await store.writeUser({ update: stale, expectedUpdatedAt: T0 + 1 }, { events: [ev] }),
        ).toStrictEqual({ ok: false, reason: 'changed' })
        expect(await store.getUser(u.id)).toStrictEqual(disabled)
        expect(await store.listEvents({ type: 'user_updated' })).toStrictEqual([])
        expect(
          await store.writeUser({ update: userRecord(), expectedUpdatedAt: T0 + 1 }),
        ).toStrictEqual({ ok: false, reason: 'not_found' })
      })

      it('SES-06 update with revoke: the change, every live session, browser session and open code of that user, one event each', async () => {
        const w = await signedIn()
        const disabled = { ...w.user, disabled: true, updatedAt: FAR }
        const action = eventRecord({ type: 'user_disabled', userId: w.user.id, at: FAR })
        const r = await store.writeUser(
          { update: disabled },
          { revoke: revokeAll('user_disabled'), events: [action] },
        )
        if (!r.ok) throw new Error('write failed')
        expect([...r.endedSessionIds].sort()).toStrictEqual(w.live.map((s) => s.id).sort())
        expect(r.endedBrowserSessions).toBe(2)
        expect(await store.getUser(w.user.id)).toStrictEqual(disabled)
        await expectRevoked(w, 'user_disabled')
        expect(await store.listEvents({ type: 'user_disabled' })).toStrictEqual([action])
      })

      it('SES-06 delete with revoke removes the user and revokes everything, keeping the session rows', async () => {
        const w = await signedIn()
        const r = await store.writeUser(
          { delete: w.user.id },
          { revoke: revokeAll('user_deleted') },
        )
        expect(r.ok).toBe(true)
        expect(await store.getUser(w.user.id)).toBeUndefined()
        await expectRevoked(w, 'user_deleted')
      })

      it('SES-05 revokeUserSessions revokes everything of the user and records its events', async () => {
        const w = await signedIn()
        const summary = eventRecord({ type: 'session_revoked', sessionId: null, userId: w.user.id })
        const r = await store.revokeUserSessions(w.user.id, revokeAll('password_change'), [summary])
        expect([...r.endedSessionIds].sort()).toStrictEqual(w.live.map((s) => s.id).sort())
        expect(r.endedBrowserSessions).toBe(2)
        await expectRevoked(w, 'password_change')
        expect(await store.getUser(w.user.id)).toStrictEqual(w.user)
        expect(
          await store.revokeUserSessions(w.user.id, revokeAll('admin', FAR + 1)),
        ).toStrictEqual({ endedSessionIds: [], endedBrowserSessions: 0 })
      })

      it('is all or nothing: an event that cannot be written leaves user, sessions, browser sessions and codes as they were', async () => {
        const w = await signedIn()
        const taken = eventRecord()
        await store.recordEvent(taken)
        const clash = eventRecord({ id: taken.id, type: 'user_disabled' })
        await expect(
          store.writeUser(
            { update: { ...w.user, disabled: true } },
            { revoke: revokeAll('user_disabled'), events: [clash] },
          ),
        ).rejects.toThrow()
        await expect(
          store.revokeUserSessions(w.user.id, revokeAll('admin'), [clash]),
        ).rejects.toThrow()
        expect(await store.getUser(w.user.id)).toStrictEqual(w.user)
        for (const s of w.live) expect((await mustGetSession(s.id)).state).not.toBe('revoked')
        for (const b of [w.bs1, w.bs2]) {
          expect((await store.getBrowserSession(b.id))?.endedAt).toBeNull()
        }
        expect(await store.getCode(w.open.codeHash)).toMatchObject({ consumedAt: null })
        expect(await store.listEvents({})).toStrictEqual([taken])
      })
    })

    describe('admin: endSessions by session id with events', () => {
      it('ends one live session with its event; an ended one gets neither change nor event', async () => {
        const s = sessionRecord()
        const other = sessionRecord({ userId: s.userId })
        await store.createSession(s)
        await store.createSession(other)
        const make = (e: { id: string; userId: string; clientId: string }) =>
          eventRecord({
            type: 'session_revoked',
            sessionId: e.id,
            userId: e.userId,
            clientId: e.clientId,
          })
        expect(
          await store.endSessions({ sessionId: s.id }, 'revoked', 'admin', FAR, make),
        ).toStrictEqual([s.id])
        expect(
          await store.endSessions({ sessionId: s.id }, 'revoked', 'admin', FAR + 1, make),
        ).toStrictEqual([])
        expect(await mustGetSession(s.id)).toMatchObject({
          state: 'revoked',
          reason: 'admin',
          endedAt: FAR,
        })
        expect(await store.getSession(other.id)).toStrictEqual(other)
        const events = await store.listEvents({ type: 'session_revoked' })
        expect(events.map((e) => [e.sessionId, e.userId, e.clientId])).toStrictEqual([
          [s.id, s.userId, s.clientId],
        ])
      })

      it('by browser session with events: one event per ended session, in the same transaction', async () => {
        const bs = uid('bs-')
        const rows = [
          sessionRecord({ browserSessionId: bs }),
          sessionRecord({ browserSessionId: bs }),
        ]
        for (const r of rows) await store.createSession(r)
        const ids = await store.endSessions(
          { browserSessionId: bs },
          'ended',
          'sign_out',
          FAR,
          (e) => eventRecord({ type: 'sign_out', sessionId: e.id, userId: e.userId }),
        )
        expect([...ids].sort()).toStrictEqual(rows.map((r) => r.id).sort())
        for (const r of rows) {
          expect((await store.listEvents({ sessionId: r.id })).map((e) => e.userId)).toStrictEqual([
            r.userId,
          ])
        }
      })
    })

    describe('admin: writeClient and writeApi', () => {
      /** The audiences clientRecord() lists. */
      const AUDIENCES = ['https://api-a.example.test', 'https://api-b.example.test']
      beforeEach(async () => {
        for (const audience of AUDIENCES) await store.upsertApi(apiRecord({ audience }))
      })

      it('create, exists, replace (seen at once by getClient), not_found, each with its events', async () => {
        const c = clientRecord()
        const created = eventRecord({ type: 'client_created', clientId: c.id })
        expect((await store.writeClient({ create: c }, { events: [created] })).ok).toBe(true)
        expect(await store.getClient(c.id)).toStrictEqual(c)
        expect(await store.writeClient({ create: { ...c, name: 'dup' } })).toStrictEqual({
          ok: false,
          reason: 'exists',
        })
        const changed = { ...c, name: 'renamed', updatedAt: FAR + 50 }
        expect((await store.writeClient({ replace: changed })).ok).toBe(true)
        expect(await store.getClient(c.id)).toStrictEqual(changed)
        const ghost = clientRecord()
        expect(
          await store.writeClient({ replace: ghost }, { events: [eventRecord()] }),
        ).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
        expect(await store.getClient(ghost.id)).toBeUndefined()
        expect(await store.listEvents({})).toStrictEqual([created])
      })

      it('a replace with expectedUpdatedAt writes only over that version (a secret rotated meanwhile stays)', async () => {
        const c = clientRecord({ updatedAt: T0 + 1 })
        await store.upsertClient(c)
        const rotated = { ...c, secretHash: 'sha256$rotated', updatedAt: T0 + 2 }
        expect((await store.writeClient({ replace: rotated, expectedUpdatedAt: T0 + 1 })).ok).toBe(
          true,
        )
        const stale = { ...c, name: 'renamed', updatedAt: T0 + 3 }
        expect(
          await store.writeClient({ replace: stale, expectedUpdatedAt: T0 + 1 }),
        ).toStrictEqual({ ok: false, reason: 'changed' })
        expect(await store.getClient(c.id)).toStrictEqual(rotated)
      })

      it('delete with revoke removes the client and revokes its live sessions only, one event each', async () => {
        const c = clientRecord()
        await store.upsertClient(c)
        const mine = [
          sessionRecord({ clientId: c.id }),
          sessionRecord({ clientId: c.id, state: 'pending' }),
        ]
        const done = sessionRecord({
          clientId: c.id,
          state: 'expired',
          reason: 'absolute_lifetime',
          endedAt: T0,
        })
        const theirs = sessionRecord({ clientId: 'web-app' })
        for (const s of [...mine, done, theirs]) await store.createSession(s)
        const r = await store.writeClient(
          { delete: c.id },
          {
            revoke: {
              reason: 'client_deleted',
              now: FAR,
              event: (e) =>
                eventRecord({ type: 'session_revoked', sessionId: e.id, clientId: e.clientId }),
            },
          },
        )
        if (!r.ok) throw new Error('delete failed')
        expect([...r.endedSessionIds].sort()).toStrictEqual(mine.map((s) => s.id).sort())
        expect(await store.getClient(c.id)).toBeUndefined()
        for (const s of mine) {
          expect(await mustGetSession(s.id)).toMatchObject({
            state: 'revoked',
            reason: 'client_deleted',
          })
        }
        expect(await store.getSession(done.id)).toStrictEqual(done)
        expect(await store.getSession(theirs.id)).toStrictEqual(theirs)
        expect(await store.listEvents({ type: 'session_revoked' })).toHaveLength(2)
        expect(await store.writeClient({ delete: c.id })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
      })

      it('a failing event write rolls a client or API write back', async () => {
        const taken = eventRecord()
        await store.recordEvent(taken)
        const clash = eventRecord({ id: taken.id })
        const c = clientRecord()
        await expect(store.writeClient({ create: c }, { events: [clash] })).rejects.toThrow()
        expect(await store.getClient(c.id)).toBeUndefined()
        const a = apiRecord()
        await expect(store.writeApi({ create: a }, [clash])).rejects.toThrow()
        expect(await store.getApi(a.audience)).toBeUndefined()
      })

      it('APIs: create, exists, replace (seen at once by getApi), delete, not_found', async () => {
        const a = apiRecord()
        expect((await store.writeApi({ create: a })).ok).toBe(true)
        expect(await store.getApi(a.audience)).toStrictEqual(a)
        expect(await store.writeApi({ create: a })).toStrictEqual({ ok: false, reason: 'exists' })
        const changed = { ...a, scopes: ['x'], accessTokenTtlSeconds: 60 }
        expect((await store.writeApi({ replace: changed })).ok).toBe(true)
        expect(await store.getApi(a.audience)).toStrictEqual(changed)
        expect((await store.writeApi({ delete: a.audience })).ok).toBe(true)
        expect(await store.getApi(a.audience)).toBeUndefined()
        expect(await store.writeApi({ delete: a.audience })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
        expect(await store.writeApi({ replace: a })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
      })

      it('syncConfiguration writes the APIs and clients, replacing what it names, seen at once', async () => {
        const api = apiRecord()
        const c = clientRecord({ audiences: [api.audience] })
        await store.syncConfiguration([api], [c])
        expect(await store.getApi(api.audience)).toStrictEqual(api)
        expect(await store.getClient(c.id)).toStrictEqual(c)
        const api2 = { ...api, name: 'renamed', updatedAt: FAR + 70 }
        const c2 = { ...c, name: 'renamed', updatedAt: FAR + 70 }
        await store.syncConfiguration([api2], [c2])
        expect(await store.getApi(api.audience)).toStrictEqual(api2)
        expect(await store.getClient(c.id)).toStrictEqual(c2)
        // One transaction: a client that cannot be written leaves the APIs unwritten too.
        const api3 = apiRecord()
        const bad = { ...clientRecord(), createdAt: {} } as unknown as ClientRecord
        await expect(store.syncConfiguration([api3], [bad])).rejects.toThrow()
        expect(await store.getApi(api3.audience)).toBeUndefined()
      })

      it('a client write naming an audience that is no API writes nothing (checked in its transaction)', async () => {
        const c = clientRecord({ audiences: [...AUDIENCES, 'https://gone.example.test'] })
        const created = eventRecord({ type: 'client_created', clientId: c.id })
        expect(await store.writeClient({ create: c }, { events: [created] })).toStrictEqual({
          ok: false,
          reason: 'unknown_api',
          audiences: ['https://gone.example.test'],
        })
        expect(await store.getClient(c.id)).toBeUndefined()
        const ok = clientRecord()
        expect((await store.writeClient({ create: ok })).ok).toBe(true)
        expect(
          await store.writeClient({ replace: { ...ok, audiences: ['https://gone.example.test'] } }),
        ).toStrictEqual({
          ok: false,
          reason: 'unknown_api',
          audiences: ['https://gone.example.test'],
        })
        expect(await store.getClient(ok.id)).toStrictEqual(ok)
        expect(await store.listEvents({})).toStrictEqual([])
        // The write comes first (on SQLite a transaction that began with a read would fail its
        // write after another process wrote), so a gone or changed client is reported as such.
        const gone = clientRecord({ audiences: ['https://gone.example.test'] })
        expect(await store.writeClient({ replace: gone })).toStrictEqual({
          ok: false,
          reason: 'not_found',
        })
        expect(
          await store.writeClient({
            replace: { ...ok, audiences: ['https://gone.example.test'] },
            expectedUpdatedAt: ok.updatedAt - 1,
          }),
        ).toStrictEqual({ ok: false, reason: 'changed' })
      })

      it('an API delete while clients list it writes nothing and names them (checked in its transaction)', async () => {
        const [a, b] = [clientRecord({ id: 'client-a' }), clientRecord({ id: 'client-b' })]
        for (const c of [b, a]) expect((await store.writeClient({ create: c })).ok).toBe(true)
        const audience = AUDIENCES[0] as string
        const api = await store.getApi(audience)
        const deleted = eventRecord({ type: 'api_deleted' })
        expect(await store.writeApi({ delete: audience }, [deleted])).toStrictEqual({
          ok: false,
          reason: 'in_use',
          clientIds: ['client-a', 'client-b'],
        })
        expect(await store.getApi(audience)).toStrictEqual(api)
        expect(await store.listEvents({})).toStrictEqual([])
        // Once no client lists it, it goes.
        for (const c of [a, b]) {
          const r = await store.writeClient({
            replace: { ...c, audiences: [AUDIENCES[1] as string] },
          })
          expect(r.ok).toBe(true)
        }
        expect((await store.writeApi({ delete: audience }, [deleted])).ok).toBe(true)
        expect(await store.getApi(audience)).toBeUndefined()
        expect(await store.listEvents({})).toStrictEqual([deleted])
      })

      it('a client serving an API (resourceServerFor) keeps it from deletion and cannot name an unknown one', async () => {
        const [served, other] = [AUDIENCES[0] as string, AUDIENCES[1] as string]
        const rs = clientRecord({
          id: 'rs-client',
          audiences: [other],
          resourceServerFor: [served],
        })
        expect((await store.writeClient({ create: rs })).ok).toBe(true)
        expect(await store.writeApi({ delete: served })).toStrictEqual({
          ok: false,
          reason: 'in_use',
          clientIds: ['rs-client'],
        })
        expect(await store.getApi(served)).toBeDefined()
        expect(
          await store.writeClient({
            replace: { ...rs, resourceServerFor: ['https://gone.example.test'] },
          }),
        ).toStrictEqual({
          ok: false,
          reason: 'unknown_api',
          audiences: ['https://gone.example.test'],
        })
        expect(await store.getClient(rs.id)).toStrictEqual(rs)
        expect((await store.writeClient({ replace: { ...rs, resourceServerFor: [] } })).ok).toBe(
          true,
        )
        expect((await store.writeApi({ delete: served })).ok).toBe(true)
      })
    })

    describe('admin: listing cursors', () => {
      it('sessions: the after cursor walks the listing once, in its order, also across equal creation times', async () => {
        const user = uid('usr_')
        const at = [T0 + 5, T0 + 1, T0 + 1, T0 + 1, T0 + 9, T0]
        for (const t of at) await store.createSession(sessionRecord({ userId: user, createdAt: t }))
        const full = (await store.listSessions({ userId: user })).map((s) => s.id)
        expect(full).toHaveLength(6)
        const seen: string[] = []
        let after: { createdAt: number; id: string } | undefined
        for (let i = 0; i < 10; i++) {
          const page = await store.listSessions({
            userId: user,
            limit: 2,
            ...(after ? { after } : {}),
          })
          if (page.length === 0) break
          seen.push(...page.map((s) => s.id))
          const last = page[page.length - 1]!
          after = { createdAt: last.createdAt, id: last.id }
        }
        expect(seen).toStrictEqual(full)
      })

      it('events: since is inclusive and combines with before', async () => {
        const user = uid('usr_')
        const events = [0, 10, 20, 30].map((d) => eventRecord({ userId: user, at: T0 + d }))
        for (const e of events) await store.recordEvent(e)
        expect(await store.listEvents({ userId: user, since: T0 + 10 })).toStrictEqual([
          events[3],
          events[2],
          events[1],
        ])
        expect(
          await store.listEvents({ userId: user, since: T0 + 10, before: T0 + 30 }),
        ).toStrictEqual([events[2], events[1]])
      })
    })

    describe('admin keys and console sessions', () => {
      it('a key round-trips, is found by its hash, and is created with its event', async () => {
        const k = adminKeyRecord()
        const ev = eventRecord({ type: 'admin_key_created' })
        await store.createAdminKey(k, ev)
        expect(await store.getAdminKey(k.id)).toStrictEqual(k)
        expect(await store.getAdminKeyByHash(k.keyHash)).toStrictEqual(k)
        expect(await store.getAdminKeyByHash(adminKeyRecord().keyHash)).toBeUndefined()
        expect(await store.listEvents({})).toStrictEqual([ev])
        const later = adminKeyRecord({ createdAt: FAR })
        await store.createAdminKey(later, eventRecord())
        expect(await store.listAdminKeys()).toStrictEqual([k, later])
      })

      it('a duplicate key hash is refused with nothing written', async () => {
        const k = adminKeyRecord()
        await store.createAdminKey(k, eventRecord())
        const twin = adminKeyRecord({ keyHash: k.keyHash })
        const ev = eventRecord()
        await expect(store.createAdminKey(twin, ev)).rejects.toThrow()
        expect(await store.getAdminKey(twin.id)).toBeUndefined()
        expect(await store.listEvents({ type: ev.type })).toHaveLength(1)
      })

      it('revoking a key ends its console sessions only, once, with its event', async () => {
        const k = adminKeyRecord()
        const other = adminKeyRecord()
        await store.createAdminKey(k, eventRecord())
        await store.createAdminKey(other, eventRecord())
        const mine = adminSessionRecord(k.id)
        const theirs = adminSessionRecord(other.id)
        for (const s of [mine, theirs]) await store.createAdminSession(s, eventRecord())
        const ev = eventRecord({ type: 'admin_key_revoked' })
        expect(await store.revokeAdminKey(k.id, FAR, ev)).toBe(true)
        expect(
          await store.revokeAdminKey(k.id, FAR + 1, eventRecord({ type: 'admin_key_revoked' })),
        ).toBe(false)
        expect(await store.revokeAdminKey('ak_nope', FAR, eventRecord())).toBe(false)
        expect(await store.getAdminKey(k.id)).toStrictEqual({ ...k, revokedAt: FAR })
        expect((await store.getAdminSession(mine.id))?.endedAt).toBe(FAR)
        expect(await store.getAdminSession(theirs.id)).toStrictEqual(theirs)
        expect(await store.listEvents({ type: 'admin_key_revoked' })).toStrictEqual([ev])
      })

      it('a console session round-trips; touch moves an open one only; end happens once with its event', async () => {
        const s = adminSessionRecord('config:ops')
        const started = eventRecord({ type: 'admin_sign_in' })
        await store.createAdminSession(s, started)
        expect(await store.getAdminSession(s.id)).toStrictEqual(s)
        await store.touchAdminSession(s.id, T0 + 500)
        expect((await store.getAdminSession(s.id))?.lastActiveAt).toBe(T0 + 500)
        const out = eventRecord({ type: 'admin_sign_out' })
        expect(await store.endAdminSession(s.id, T0 + 600, out)).toBe(true)
        expect(
          await store.endAdminSession(s.id, T0 + 700, eventRecord({ type: 'admin_sign_out' })),
        ).toBe(false)
        await store.touchAdminSession(s.id, T0 + 800)
        expect(await store.getAdminSession(s.id)).toStrictEqual({
          ...s,
          lastActiveAt: T0 + 500,
          endedAt: T0 + 600,
        })
        expect(await store.listEvents({ type: 'admin_sign_out' })).toStrictEqual([out])
        expect(await store.getAdminSession('nope')).toBeUndefined()
      })
    })

    describe('signing keys', () => {
      it('reencryptSigningKey replaces the ciphertext only while it is the expected one; racers write once', async () => {
        const k = signingKeyRecord()
        const other = signingKeyRecord()
        await store.insertSigningKey(k)
        await store.insertSigningKey(other)
        expect(await store.reencryptSigningKey(k.kid, 'not-the-stored-one', 'x')).toBe(false)
        const won = await race(RACERS, (i) =>
          store.reencryptSigningKey(k.kid, k.privateJwkEnc, `new-${i}`),
        )
        expect(won.filter(Boolean)).toHaveLength(1)
        const stored = (await store.listSigningKeys()).find((r) => r.kid === k.kid)
        expect(stored).toStrictEqual({ ...k, privateJwkEnc: `new-${won.indexOf(true)}` })
        // The other key is untouched.
        expect((await store.listSigningKeys()).find((r) => r.kid === other.kid)).toStrictEqual(
          other,
        )
      })

      it('round-trips every field, ordered by activation', async () => {
        const later = signingKeyRecord({ alg: 'EdDSA', activatesAt: FAR, createdAt: T0 + 5 })
        const first = signingKeyRecord({
          alg: 'RS256',
          activatesAt: T0,
          retiredAt: FAR,
          expiresAt: FAR + 1,
        })
        const middle = signingKeyRecord({ activatesAt: T0 + 86_400_000 })
        for (const k of [later, first, middle]) await store.insertSigningKey(k)
        expect(await store.listSigningKeys()).toStrictEqual([first, middle, later])
      })

      it('update sets and clears retirement and expiry of one key', async () => {
        const a = signingKeyRecord({ activatesAt: T0 })
        const b = signingKeyRecord({ activatesAt: T0 + 1 })
        await store.insertSigningKey(a)
        await store.insertSigningKey(b)
        await store.updateSigningKey(a.kid, FAR, FAR + 60_000)
        expect(await store.listSigningKeys()).toStrictEqual([
          { ...a, retiredAt: FAR, expiresAt: FAR + 60_000 },
          b,
        ])
        await store.updateSigningKey(a.kid, null, null)
        expect(await store.listSigningKeys()).toStrictEqual([a, b])
        await store.updateSigningKey('no-such-kid', T0, T0)
        expect(await store.listSigningKeys()).toStrictEqual([a, b])
      })

      it('insertFirstSigningKey inserts into an empty table only', async () => {
        const a = signingKeyRecord()
        expect(await store.insertFirstSigningKey(a)).toBe(true)
        expect(await store.insertFirstSigningKey(signingKeyRecord())).toBe(false)
        expect(await store.listSigningKeys()).toStrictEqual([a])
      })

      it(`${RACERS} concurrent first keys (instances starting together): exactly one is inserted`, async () => {
        const keys = Array.from({ length: RACERS }, () => signingKeyRecord())
        const results = await race(RACERS, (i) => store.insertFirstSigningKey(keys[i]!))
        expect(results.filter(Boolean)).toHaveLength(1)
        expect(await store.listSigningKeys()).toStrictEqual([keys[results.indexOf(true)]])
      })

      it('a duplicate kid is refused', async () => {
        const a = signingKeyRecord()
        await store.insertSigningKey(a)
        await expect(store.insertSigningKey(signingKeyRecord({ kid: a.kid }))).rejects.toThrow()
        expect(await store.listSigningKeys()).toStrictEqual([a])
      })
    })

    describe('throttle', () => {
      const W = 60 // seconds; T0 is a multiple of 60 s

      it('counts hits in a window; count reads without adding', async () => {
        expect(await store.throttleCount('k', T0, W)).toBe(0)
        expect(await store.throttleHit('k', T0, W)).toBe(1)
        expect(await store.throttleHit('k', T0 + 1_000, W)).toBe(2)
        expect(await store.throttleHit('k', T0 + 59_999, W)).toBe(3)
        expect(await store.throttleCount('k', T0 + 59_999, W)).toBe(3)
        expect(await store.throttleCount('k', T0 + 30_000, W)).toBe(3)
        expect(await store.throttleCount('other', T0, W)).toBe(0)
      })

      it('windows are fixed and roll over at their boundary', async () => {
        await store.throttleHit('k', T0 + 59_000, W)
        await store.throttleHit('k', T0 + 59_999, W)
        expect(await store.throttleCount('k', T0 + 60_000, W)).toBe(0)
        expect(await store.throttleHit('k', T0 + 60_000, W)).toBe(1)
        expect(await store.throttleCount('k', T0 + 119_999, W)).toBe(1)
        // Timestamps far above 2^32 ms work the same.
        expect(await store.throttleHit('k', FAR, W)).toBe(1)
        expect(await store.throttleHit('k', FAR + 1, W)).toBe(2)
        expect(await store.throttleCount('k', FAR + 59_999, W)).toBe(2)
      })

      it('keys are independent; reset clears one key', async () => {
        await store.throttleHit('a', T0, W)
        await store.throttleHit('a', T0, W)
        await store.throttleHit('b', T0, W)
        await store.throttleReset('a')
        expect(await store.throttleCount('a', T0, W)).toBe(0)
        expect(await store.throttleCount('b', T0, W)).toBe(1)
        expect(await store.throttleHit('a', T0, W)).toBe(1)
        await store.throttleReset('never-hit')
      })

      it('pruneThrottle deletes windows that started more than a day ago, and counts them', async () => {
        const DAY = 86_400_000
        await store.throttleHit('old', T0, W)
        await store.throttleHit('edge', T0 + 60_000, W)
        await store.throttleHit('new', T0 + DAY, W)
        const now = T0 + 60_000 + DAY
        expect(await store.pruneThrottle(now)).toBe(1)
        expect(await store.throttleCount('old', T0, W)).toBe(0)
        expect(await store.throttleHit('old', T0, W)).toBe(1)
        expect(await store.throttleCount('edge', T0 + 60_000, W)).toBe(1)
        expect(await store.throttleCount('new', T0 + DAY, W)).toBe(1)
        expect(await store.pruneThrottle(now)).toBe(1)
        expect(await store.pruneThrottle(now)).toBe(0)
      })

      it(`${RACERS} concurrent hits are all counted, each seeing a distinct count`, async () => {
        const counts = await race(RACERS, () => store.throttleHit('hot', T0 + 5, W))
        expect([...counts].sort((x, y) => x - y)).toStrictEqual(
          Array.from({ length: RACERS }, (_, i) => i + 1),
        )
        expect(await store.throttleCount('hot', T0 + 5, W)).toBe(RACERS)
      })
    })

    describe('DPoP proofs', () => {
      it('a proof key is accepted once while its record lives, and again once it has expired', async () => {
        expect(await store.useDpopProof('p1', T0, T0 + 61_000)).toBe(true)
        expect(await store.useDpopProof('p1', T0 + 1, T0 + 62_000)).toBe(false)
        expect(await store.useDpopProof('p1', T0 + 60_999, T0 + 90_000)).toBe(false)
        expect(await store.useDpopProof('p2', T0 + 1, T0 + 61_000)).toBe(true)
        // expires_at == now: expired; the refused attempts above did not extend the record.
        expect(await store.useDpopProof('p1', T0 + 61_000, T0 + 122_000)).toBe(true)
        expect(await store.useDpopProof('p1', T0 + 121_999, T0 + 200_000)).toBe(false)
      })

      it('pruneDpopProofs deletes expired records only, and counts them', async () => {
        await store.useDpopProof('old', T0, T0 + 1_000)
        await store.useDpopProof('edge', T0, T0 + 2_000)
        await store.useDpopProof('live', T0, FAR)
        expect(await store.pruneDpopProofs(T0 + 2_000)).toBe(2)
        expect(await store.pruneDpopProofs(T0 + 2_000)).toBe(0)
        expect(await store.useDpopProof('live', T0 + 2_000, FAR)).toBe(false)
        expect(await store.useDpopProof('old', T0 + 2_000, FAR)).toBe(true)
      })

      it(`${RACERS} concurrent uses of one proof: exactly one is accepted`, async () => {
        const results = await race(RACERS, () => store.useDpopProof('hot', T0, T0 + 60_000))
        expect(results.filter((r) => r)).toHaveLength(1)
      })

      it('a session keeps its DPoP binding through rotations', async () => {
        const s = sessionRecord({ generation: 0 })
        await store.createSession(s)
        const r = await store.rotateRefresh(s.id, 0, T0 + 100)
        expect(r.ok && r.session.dpopJkt).toBe(s.dpopJkt)
        expect((await mustGetSession(s.id)).dpopJkt).toBe(s.dpopJkt)
      })
    })

    describe('second factors and session tasks', () => {
      const totp = (userId: string, secretEnc = 'enc-1') => ({
        userId,
        secretEnc,
        createdAt: T0,
        confirmedAt: null,
        lastStep: null,
      })

      it('an enrolment is replaced while unconfirmed, confirmed once with its recovery codes and event, then kept', async () => {
        const u = uid('usr')
        expect(await store.getTotp(u)).toBeUndefined()
        expect(await store.beginTotp(totp(u, 'enc-1'))).toBe(true)
        expect(await store.beginTotp(totp(u, 'enc-2'))).toBe(true)
        const event = eventRecord({ type: 'mfa_enrolled', userId: u })
        // The secret shown first is no longer the one being enrolled.
        expect(
          await store.confirmTotp({
            userId: u,
            secretEnc: 'enc-1',
            step: 5,
            now: T0 + 1,
            recoveryCodeHashes: ['a'],
            event,
          }),
        ).toBe(false)
        expect(
          await store.confirmTotp({
            userId: u,
            secretEnc: 'enc-2',
            step: 5,
            now: T0 + 1,
            recoveryCodeHashes: ['a', 'b'],
            event,
          }),
        ).toBe(true)
        expect(await store.getTotp(u)).toEqual({
          ...totp(u, 'enc-2'),
          confirmedAt: T0 + 1,
          lastStep: 5,
        })
        expect(await store.countRecoveryCodes(u)).toBe(2)
        expect(
          (await store.listEvents({ type: 'mfa_enrolled', limit: 5 })).map((e) => e.id),
        ).toEqual([event.id])
        expect(await store.beginTotp(totp(u, 'enc-3'))).toBe(false)
        expect((await store.getTotp(u))?.secretEnc).toBe('enc-2')
      })

      it('useTotpStep accepts only a later step than the last one, once under a race', async () => {
        const u = uid('usr')
        await store.beginTotp(totp(u))
        expect(await store.useTotpStep(u, 10)).toBe(false) // not confirmed yet
        await store.confirmTotp({
          userId: u,
          secretEnc: 'enc-1',
          step: 5,
          now: T0,
          recoveryCodeHashes: [],
          event: eventRecord({ type: 'mfa_enrolled' }),
        })
        expect(await store.useTotpStep(u, 5)).toBe(false)
        expect(await store.useTotpStep(u, 4)).toBe(false)
        const results = await race(RACERS, () => store.useTotpStep(u, 6))
        expect(results.filter((r) => r)).toHaveLength(1)
        expect((await store.getTotp(u))?.lastStep).toBe(6)
      })

      it('a recovery code is spent once, also under a race; reset removes everything with its event', async () => {
        const u = uid('usr')
        await store.beginTotp(totp(u))
        await store.confirmTotp({
          userId: u,
          secretEnc: 'enc-1',
          step: 1,
          now: T0,
          recoveryCodeHashes: ['h1', 'h2'],
          event: eventRecord({ type: 'mfa_enrolled' }),
        })
        expect(await store.useRecoveryCode(u, 'nope', T0)).toBe(false)
        expect(await store.useRecoveryCode(uid('usr'), 'h1', T0)).toBe(false)
        const results = await race(RACERS, () => store.useRecoveryCode(u, 'h1', T0))
        expect(results.filter((r) => r)).toHaveLength(1)
        expect(await store.countRecoveryCodes(u)).toBe(1)
        const reset = eventRecord({ type: 'mfa_reset', userId: u })
        expect(await store.resetMfa(u, reset)).toBe(true)
        expect(await store.getTotp(u)).toBeUndefined()
        expect(await store.countRecoveryCodes(u)).toBe(0)
        expect(await store.resetMfa(u, eventRecord({ type: 'mfa_reset', userId: u }))).toBe(false)
        expect((await store.listEvents({ type: 'mfa_reset', limit: 5 })).map((e) => e.id)).toEqual([
          reset.id,
        ])
      })

      it("a pending session keeps its task, rotates only as pending, and completeSessionTask activates the browser session's pending ones", async () => {
        const bs = uid('bs')
        const pending = sessionRecord({
          state: 'pending',
          task: 'setup-mfa',
          browserSessionId: bs,
          generation: 0,
        })
        const elsewhere = sessionRecord({
          state: 'pending',
          task: 'setup-mfa',
          browserSessionId: uid('bs'),
        })
        const active = sessionRecord({ browserSessionId: bs })
        for (const x of [pending, elsewhere, active]) await store.createSession(x)
        expect((await mustGetSession(pending.id)).task).toBe('setup-mfa')
        expect((await mustGetSession(active.id)).task).toBeNull()
        expect((await store.rotateRefresh(pending.id, 0, T0 + 1)).ok).toBe(false)
        const r = await store.rotateRefresh(pending.id, 0, T0 + 1, 'pending')
        expect(r.ok && r.session.generation).toBe(1)
        expect(await store.useGrace(pending.id, 1, 10, T0 + 2)).toBe(false)
        expect(await store.useGrace(pending.id, 1, 10, T0 + 2, 'pending')).toBe(true)
        const done = await store.completeSessionTask(
          { browserSessionId: bs, task: 'setup-mfa', amr: ['pwd', 'otp', 'mfa'], authTime: T0 + 5 },
          (xs) => xs.map((x) => eventRecord({ type: 'session_task_completed', sessionId: x.id })),
        )
        expect(done).toEqual([pending.id])
        expect(await mustGetSession(pending.id)).toMatchObject({
          state: 'active',
          task: null,
          amr: ['pwd', 'otp', 'mfa'],
          authTime: T0 + 5,
        })
        expect((await mustGetSession(elsewhere.id)).state).toBe('pending')
        expect(
          (await store.listEvents({ type: 'session_task_completed', limit: 5 })).map(
            (e) => e.sessionId,
          ),
        ).toEqual([pending.id])
      })

      it("ACC-03 completeSessionTask by user completes every browser's sessions of the user, keeps amr, and hands the clients of next on to the next task", async () => {
        const user = uid('usr_')
        const mk = (o: Partial<SessionRecord>) =>
          sessionRecord({ userId: user, state: 'pending', task: 'verify-email', ...o })
        const a = mk({ browserSessionId: uid('bs'), amr: ['pwd'] })
        const b = mk({ browserSessionId: uid('bs'), clientId: 'native-app' })
        const otherTask = mk({ task: 'setup-mfa' })
        const otherUser = mk({ userId: uid('usr_') })
        for (const x of [a, b, otherTask, otherUser]) await store.createSession(x)
        const done = await store.completeSessionTask({ userId: user, task: 'verify-email' }, (xs) =>
          xs.map((x) => eventRecord({ type: 'session_task_completed', sessionId: x.id })),
        )
        expect(done.sort()).toEqual([a.id, b.id].sort())
        expect(await mustGetSession(a.id)).toMatchObject({
          state: 'active',
          task: null,
          amr: ['pwd'],
        })
        expect((await mustGetSession(otherTask.id)).task).toBe('setup-mfa')
        expect((await mustGetSession(otherUser.id)).state).toBe('pending')

        // setup-mfa completed, verify-email next for one client only.
        const bs = uid('bs')
        const held = mk({ browserSessionId: bs, task: 'setup-mfa', clientId: 'strict' })
        const freed = mk({ browserSessionId: bs, task: 'setup-mfa', clientId: 'lenient' })
        for (const x of [held, freed]) await store.createSession(x)
        const next = await store.completeSessionTask(
          {
            browserSessionId: bs,
            task: 'setup-mfa',
            amr: ['pwd', 'otp', 'mfa'],
            authTime: T0 + 9,
            next: { task: 'verify-email', clientIds: ['strict'] },
          },
          () => [],
        )
        expect(next.sort()).toEqual([held.id, freed.id].sort())
        expect(await mustGetSession(held.id)).toMatchObject({
          state: 'pending',
          task: 'verify-email',
          amr: ['pwd', 'otp', 'mfa'],
        })
        expect(await mustGetSession(freed.id)).toMatchObject({ state: 'active', task: null })
      })
    })

    describe('passkeys', () => {
      const passkey = (userId: string, o: Partial<PasskeyRecord> = {}): PasskeyRecord => ({
        id: uid('cred-'),
        userId,
        publicKey: uid('cose-'),
        counter: 5,
        transports: ['internal', 'hybrid'],
        backupEligible: true,
        backupState: false,
        name: 'Laptop',
        createdAt: T0,
        lastUsedAt: null,
        ...o,
      })

      it('stores, lists (oldest first), reads and deletes passkeys with their events', async () => {
        const user = userRecord()
        const a = passkey(user.id, { createdAt: T0 + 2 })
        const b = passkey(user.id, { createdAt: T0 + 1, lastUsedAt: T0 + 5, counter: 2 ** 32 })
        const e1 = eventRecord({ type: 'passkey_registered', userId: user.id })
        expect(await store.createPasskey(a, e1)).toBe(true)
        expect(await store.createPasskey(b, eventRecord({ userId: user.id }))).toBe(true)
        expect(await store.createPasskey(passkey(uid('usr_')), eventRecord())).toBe(true)
        expect(await store.listPasskeys(user.id)).toEqual([b, a])
        expect(await store.getPasskey(a.id)).toEqual(a)
        // The same credential id again, for anyone: refused, and its event not written.
        const e2 = eventRecord({ userId: user.id })
        expect(await store.createPasskey({ ...a, userId: uid('usr_') }, e2)).toBe(false)
        expect(await store.listEvents({ userId: user.id, limit: 10 })).toHaveLength(2)

        const removed = eventRecord({ type: 'passkey_removed', userId: user.id })
        expect(await store.deletePasskey(uid('usr_'), a.id, eventRecord())).toBe(false)
        expect(await store.deletePasskey(user.id, a.id, removed)).toBe(true)
        expect(await store.deletePasskey(user.id, a.id, eventRecord())).toBe(false)
        expect(await store.getPasskey(a.id)).toBeUndefined()
        expect(await store.listEvents({ type: 'passkey_removed', limit: 10 })).toEqual([removed])
      })

      it('usePasskey moves the counter by compare-and-set', async () => {
        const p = passkey(uid('usr_'))
        await store.createPasskey(p, eventRecord())
        const use = { counter: 6, backupState: true, now: T0 + 9 }
        expect(await store.usePasskey(p.id, 4, use)).toBe(false)
        expect(await store.usePasskey(p.id, 5, use)).toBe(true)
        expect(await store.getPasskey(p.id)).toEqual({
          ...p,
          counter: 6,
          backupState: true,
          lastUsedAt: T0 + 9,
        })
        const results = await race(RACERS, () =>
          store.usePasskey(p.id, 6, { counter: 7, backupState: true, now: T0 + 10 }),
        )
        expect(results.filter((r) => r)).toHaveLength(1)
      })

      it('a WebAuthn challenge is used once while its record lives; prune counts expired ones', async () => {
        expect(await store.useWebAuthnChallenge('c1', T0, T0 + 1_000)).toBe(true)
        expect(await store.useWebAuthnChallenge('c1', T0 + 999, T0 + 2_000)).toBe(false)
        const results = await race(RACERS, () => store.useWebAuthnChallenge('hot', T0, FAR))
        expect(results.filter((r) => r)).toHaveLength(1)
        expect(await store.pruneWebAuthnChallenges(T0 + 1_000)).toBe(1)
        expect(await store.useWebAuthnChallenge('hot', T0 + 1_000, FAR)).toBe(false)
      })
    })

    describe('device keys (biometric step-up)', () => {
      const deviceKey = (userId: string, o: Partial<DeviceKeyRecord> = {}): DeviceKeyRecord => ({
        id: uid('dk-'),
        userId,
        name: 'Phone',
        publicJwk: { kty: 'EC', crv: 'P-256', x: uid('x-'), y: uid('y-') },
        jkt: uid('jkt-'),
        createdAt: T0,
        lastUsedAt: null,
        ...o,
      })

      it('stores, lists (oldest first), reads and deletes device keys with their events; a key once per user', async () => {
        const user = userRecord()
        const a = deviceKey(user.id, { createdAt: T0 + 2 })
        const b = deviceKey(user.id, { createdAt: T0 + 1 })
        expect(await store.createDeviceKey(a, eventRecord({ userId: user.id }))).toBe(true)
        expect(await store.createDeviceKey(b, eventRecord({ userId: user.id }))).toBe(true)
        expect(await store.listDeviceKeys(user.id)).toEqual([b, a])
        expect(await store.getDeviceKey(a.id)).toEqual(a)
        // The same key (thumbprint) again for this user: refused, and its event not written.
        const again = deviceKey(user.id, { jkt: a.jkt })
        expect(await store.createDeviceKey(again, eventRecord({ userId: user.id }))).toBe(false)
        expect(await store.listEvents({ userId: user.id, limit: 10 })).toHaveLength(2)
        // Another user may hold the same public key (nothing secret is shared by it).
        expect(
          await store.createDeviceKey(deviceKey(uid('usr_'), { jkt: a.jkt }), eventRecord()),
        ).toBe(true)
        const removed = eventRecord({ type: 'device_key_removed', userId: user.id })
        expect(await store.deleteDeviceKey(uid('usr_'), a.id, eventRecord())).toBe(false)
        expect(await store.deleteDeviceKey(user.id, a.id, removed)).toBe(true)
        expect(await store.deleteDeviceKey(user.id, a.id, eventRecord())).toBe(false)
        expect(await store.getDeviceKey(a.id)).toBeUndefined()
        expect(await store.listEvents({ type: 'device_key_removed', limit: 10 })).toEqual([removed])
      })

      it('raiseSession writes amr and auth_time of an active session only, with the key use and the event', async () => {
        const key = deviceKey(uid('usr_'))
        await store.createDeviceKey(key, eventRecord())
        const active = sessionRecord({ userId: key.userId, amr: ['pwd'] })
        const ended = sessionRecord({ userId: key.userId, state: 'revoked', endedAt: T0 + 1 })
        await store.createSession(active)
        await store.createSession(ended)
        const ok = eventRecord({ type: 'device_step_up_success', sessionId: active.id })
        const raise = { amr: ['pwd', 'hwk', 'user'], authTime: T0 + 50, deviceKeyId: key.id }
        expect(await store.raiseSession({ ...raise, sessionId: active.id }, ok)).toBe(true)
        expect(await mustGetSession(active.id)).toMatchObject({
          amr: ['pwd', 'hwk', 'user'],
          authTime: T0 + 50,
        })
        expect((await store.getDeviceKey(key.id))!.lastUsedAt).toBe(T0 + 50)
        const no = eventRecord({ type: 'device_step_up_success', sessionId: ended.id })
        expect(await store.raiseSession({ ...raise, sessionId: ended.id }, no)).toBe(false)
        expect((await mustGetSession(ended.id)).amr).toEqual(ended.amr)
        expect(await store.listEvents({ type: 'device_step_up_success', limit: 10 })).toEqual([ok])
      })
    })
  })
}
