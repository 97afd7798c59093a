import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { signInTokens } from '../helpers/grants.js'
import { adminApi, startAdminServer, type TestServer } from './admin-helpers.js'

let t: TestServer
let alice: UserRecord
let bob: UserRecord
const aliceSessions: string[] = []
let bobSession: string
let start: number

beforeAll(async () => {
  t = await startAdminServer()
  alice = await t.createUser('alice')
  bob = await t.createUser('bob')
  start = t.clock.now()
  // Five sessions of alice a second apart (the last two at the same instant), one of bob.
  for (let i = 0; i < 5; i++) {
    if (i < 4) t.clock.advance(1000)
    const clientId = i % 2 === 0 ? 'web-app' : 'native-app'
    const s = await signInTokens(t, alice, { clientId, scope: 'openid offline_access read' })
    aliceSessions.push(decodeJwt(s.body.access_token).sid as string)
  }
  t.clock.advance(1000)
  const b = await signInTokens(t, bob)
  bobSession = decodeJwt(b.body.access_token).sid as string
  t.clock.advance(1000)
  await adminApi(t, 'POST', `/sessions/${aliceSessions[0]}/revoke`)
})
afterAll(async () => {
  await t.close()
})

const ids = (r: { body: { sessions: { id: string }[] } }) => r.body.sessions.map((s) => s.id)

describe('GET /sessions', () => {
  it('filters by user, client and state, newest first', async () => {
    const all = await adminApi(t, 'GET', `/sessions?user=${alice.id}`)
    expect(all.status).toBe(200)
    expect(ids(all)).toHaveLength(5)
    expect(new Set(ids(all))).toStrictEqual(new Set(aliceSessions))
    const created = all.body.sessions.map((s: { createdAt: number }) => s.createdAt)
    expect(created).toStrictEqual([...created].sort((a, b) => b - a))

    const native = await adminApi(t, 'GET', `/sessions?user=${alice.id}&client=native-app`)
    expect(new Set(ids(native))).toStrictEqual(new Set([aliceSessions[1], aliceSessions[3]]))
    const revoked = await adminApi(t, 'GET', '/sessions?state=revoked')
    expect(ids(revoked)).toStrictEqual([aliceSessions[0]])
    expect(revoked.body.sessions[0]).toMatchObject({
      state: 'revoked',
      reason: 'admin',
      endedAt: t.clock.now(),
    })
    const bobs = await adminApi(t, 'GET', `/sessions?user=${bob.id}&state=active`)
    expect(ids(bobs)).toStrictEqual([bobSession])
  })

  it('pages with a cursor: every session once, in the listing order, also across equal creation times', async () => {
    const full = ids(await adminApi(t, 'GET', '/sessions'))
    expect(full).toHaveLength(6)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const r = await adminApi(t, 'GET', `/sessions?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      expect(r.body.sessions.length).toBeLessThanOrEqual(2)
      seen.push(...ids(r))
      cursor = r.body.nextCursor
    } while (cursor !== null)
    expect(seen).toStrictEqual(full)
  })

  it('a session shows its state, reason and times, never its salt or refresh token', async () => {
    const r = await adminApi(t, 'GET', `/sessions/${bobSession}`)
    expect(r.status).toBe(200)
    const stored = (await t.store.getSession(bobSession))!
    expect(r.body).toStrictEqual({
      id: bobSession,
      userId: bob.id,
      clientId: 'web-app',
      state: 'active',
      reason: null,
      task: null,
      createdAt: stored.createdAt,
      lastActiveAt: stored.lastActiveAt,
      endedAt: null,
      expiresAt: Math.min(stored.expiresAt, stored.lastActiveAt + stored.idleSeconds * 1000),
      authTime: stored.authTime,
      amr: ['pwd'],
      scope: stored.scope,
      resources: stored.resources,
      generation: 0,
      ip: '127.0.0.1',
      userAgent: stored.userAgent,
    })
    expect(JSON.stringify(r.body)).not.toContain(stored.salt)
    const missing = await adminApi(t, 'GET', '/sessions/nope')
    expect(missing.status).toBe(404)
    expect(missing.body).toStrictEqual({ error: 'not_found', error_description: 'no session nope' })
    expect((await adminApi(t, 'POST', '/sessions/nope/revoke')).status).toBe(404)
  })

  it.each([
    [
      '?state=gone',
      'state: must be one of active, pending, ended, expired, abandoned, revoked, removed, replaced',
    ],
    ['?user=a&user=b', 'parameter user is included more than once'],
    ['?client=' + 'c'.repeat(129), 'parameter client is too long'],
    [
      `?cursor=${Buffer.from('["events",1,"x"]').toString('base64url')}`,
      'cursor is not a cursor of this listing',
    ],
    [
      `?cursor=${Buffer.from('["sessions","1","x"]').toString('base64url')}`,
      'cursor is not a cursor of this listing',
    ],
    ['?userId=x', 'unknown query parameter userId'],
  ])('a bad query %s is 400', async (q, description) => {
    const r = await adminApi(t, 'GET', `/sessions${q}`)
    expect({ status: r.status, body: r.body }).toStrictEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: description },
    })
  })
})

describe('GET /events', () => {
  it('filters by type, user, client and session', async () => {
    const revoked = await adminApi(t, 'GET', '/events?type=session_revoked')
    expect(revoked.body.events).toHaveLength(1)
    expect(revoked.body.events[0]).toMatchObject({
      type: 'session_revoked',
      userId: alice.id,
      sessionId: aliceSessions[0],
      data: { reason: 'admin' },
    })
    const bySession = await adminApi(t, 'GET', `/events?session=${aliceSessions[0]}`)
    expect(bySession.body.events.map((e: { type: string }) => e.type)).toStrictEqual([
      'session_revoked',
    ])
    const byUser = await adminApi(
      t,
      'GET',
      `/events?user=${alice.id}&client=web-app&type=session_revoked`,
    )
    expect(byUser.body.events).toHaveLength(1)
    expect((await adminApi(t, 'GET', `/events?user=${bob.id}`)).body.events).toStrictEqual([])
  })

  it('since (inclusive) and before (exclusive) take milliseconds or ISO 8601', async () => {
    const at = t.clock.now()
    const iso = new Date(at).toISOString()
    expect((await adminApi(t, 'GET', `/events?since=${at}`)).body.events).toHaveLength(1)
    expect(
      (await adminApi(t, 'GET', `/events?since=${encodeURIComponent(iso)}`)).body.events,
    ).toHaveLength(1)
    expect((await adminApi(t, 'GET', `/events?before=${at}`)).body.events).toStrictEqual([])
    expect((await adminApi(t, 'GET', `/events?since=${at + 1}`)).body.events).toStrictEqual([])
    expect(
      (await adminApi(t, 'GET', `/events?since=${start}&before=${encodeURIComponent(iso)}`)).body
        .events,
    ).toStrictEqual([])
  })

  it('pages with the (at, id) keyset cursor: every event once, newest first', async () => {
    // Several events at one instant.
    for (let i = 0; i < 5; i++) {
      await adminApi(t, 'PATCH', `/users/${bob.id}`, { metadata: { i } })
    }
    const full = (await adminApi(t, 'GET', '/events?limit=500')).body.events.map(
      (e: { id: string }) => e.id,
    )
    expect(full.length).toBeGreaterThanOrEqual(6)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const r = await adminApi(t, 'GET', `/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
      seen.push(...r.body.events.map((e: { id: string }) => e.id))
      cursor = r.body.nextCursor
    } while (cursor !== null)
    expect(seen).toStrictEqual(full)
  })

  it.each([
    ['?type=nope', /^type: must be one of sign_in_success, sign_in_failure, /],
    [
      '?since=yesterday',
      /^since: must be milliseconds since the epoch or an ISO 8601 time such as 2026-01-01T00:00:00Z$/,
    ],
    [
      '?before=2026-13-45T00:00:00Z',
      /^before: must be milliseconds since the epoch or an ISO 8601 time/,
    ],
    ['?limit=1000', /^limit: must be a whole number from 1 to 500$/],
    ['?at=1', /^unknown query parameter at$/],
  ])('a bad query %s is 400', async (q, description) => {
    const r = await adminApi(t, 'GET', `/events${q}`)
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_request')
    expect(r.body.error_description).toMatch(description)
  })
})
