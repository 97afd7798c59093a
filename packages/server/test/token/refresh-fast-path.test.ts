/**
 * The refresh fast path: once this process has read a session, a refresh of its current token
 * rotates without reading it again, trusting only the session's immutable fields (SessionFacts)
 * and leaving the rest (state, generation, liveness) to the rotation's compare-and-set. These
 * tests change the mutable part behind the process's back (a second connection to the same
 * database, as another instance or the CLI would) and check that every answer is the one the
 * full path gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { UserRecord } from '../../src/store/types.js'
import { sessionOf, signInTokens } from '../helpers/grants.js'
import type { TestServer } from '../helpers/test-server.js'
import {
  dbCounts,
  expectOAuthError,
  INVALID,
  NO_LONGER_VALID,
  refresh,
  sidOf,
  startTokenServer,
} from './fixtures.js'

let t: TestServer
let other: SqliteStore
let alice: UserRecord
beforeAll(async () => {
  t = await startTokenServer()
  other = new SqliteStore({ file: t.dbFile })
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await other.close()
  await t.close()
})

/** Signs in and refreshes once, so the server has read the session and remembers its facts. */
async function remembered(): Promise<{ rt: string; sid: string }> {
  const r = await signInTokens(t, alice, { scope: 'openid offline_access read' })
  expect(r.status).toBe(200)
  t.clock.advance(1000)
  const r1 = await refresh(t, r.body.refresh_token)
  expect(r1.status).toBe(200)
  const sid = sidOf(r1.body.refresh_token)
  expect(t.server.ctx.sessionFacts.get(sid)?.id).toBe(sid)
  return { rt: r1.body.refresh_token, sid }
}

describe('refresh without a read of the session (SessionFacts)', () => {
  it('chained refreshes rotate one generation each, exactly as the full path', async () => {
    const { rt, sid } = await remembered()
    let token = rt
    for (let i = 0; i < 5; i++) {
      t.clock.advance(1000)
      const r = await refresh(t, token)
      expect(r.status).toBe(200)
      token = r.body.refresh_token
    }
    expect(await sessionOf(t, sid)).toMatchObject({
      generation: 6,
      state: 'active',
      lastActiveAt: t.clock.now(),
    })
  })

  it('a session revoked through another connection is refused at once and not rotated', async () => {
    const { rt, sid } = await remembered()
    await other.endSession(sid, 'revoked', 'admin', t.clock.now())
    const before = await sessionOf(t, sid)
    expectOAuthError(await refresh(t, rt), 400, 'invalid_grant', NO_LONGER_VALID)
    expect(await sessionOf(t, sid)).toStrictEqual(before)
  })

  it('a session past its idle end is refused and stored as abandoned at its idle end, with its event', async () => {
    const { rt, sid } = await remembered()
    const s = await sessionOf(t, sid)
    const idleEnd = s.lastActiveAt + s.idleSeconds * 1000
    t.clock.set(idleEnd)
    expectOAuthError(await refresh(t, rt), 400, 'invalid_grant', NO_LONGER_VALID)
    expect(await sessionOf(t, sid)).toMatchObject({
      state: 'abandoned',
      reason: 'idle_timeout',
      endedAt: idleEnd,
      generation: s.generation,
    })
    const events = await t.store.listEvents({ sessionId: sid, type: 'session_abandoned' })
    expect(events).toHaveLength(1)
  })

  it('a rotation made through another connection turns the presented token into a grace replay', async () => {
    const { rt, sid } = await remembered()
    const s = await sessionOf(t, sid)
    const moved = await other.rotateRefresh(sid, s.generation, t.clock.now())
    expect(moved.ok).toBe(true)
    const counts = dbCounts(t)
    const r = await refresh(t, rt)
    expect(r.status).toBe(200)
    // The same current token the other rotation made, not a new generation.
    expect(await sessionOf(t, sid)).toMatchObject({ generation: s.generation + 1, graceUses: 1 })
    expect(dbCounts(t).sessions).toBe(counts.sessions)
    const retry = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_retry' })
    expect(retry).toHaveLength(1)
  })

  it('a token of another client, or with a forged MAC, is refused without touching the session', async () => {
    const { rt, sid } = await remembered()
    const before = await sessionOf(t, sid)
    expectOAuthError(await refresh(t, rt, {}, 'native-app'), 400, 'invalid_grant', INVALID)
    const forged = rt.slice(0, -4) + (rt.endsWith('AAAA') ? 'BBBB' : 'AAAA')
    expectOAuthError(await refresh(t, forged), 400, 'invalid_grant', INVALID)
    expect(await sessionOf(t, sid)).toStrictEqual(before)
  })
})
