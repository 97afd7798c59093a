import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { PostgresStore } from '../../src/store/postgres-store.js'
import type { Store } from '../../src/store/store.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, codeForm } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import {
  barrierPost,
  formBody,
  generationOf,
  InterleavingSqliteStore,
  openKindStore,
  refreshForm,
  sessionIdOf,
  type KindStore,
  type RawResponse,
} from './support.js'

/**
 * REL-02: concurrency far above what the store can serve at once. The SQLite store has exactly one
 * connection (Kysely queues every query behind it); the PostgreSQL store here has a pool of 5
 * connections. A few hundred simultaneous token requests all wait for a connection. Required: no
 * deadlock (every request answered within the barrier's 20 s limit), no pool-exhaustion 5xx, and
 * every request gets what it would have got alone.
 */

const SESSIONS = 100
const POOL_SIZE = 5

const setups = [
  { name: 'SqliteStore', kind: 'sqlite', interleaving: false },
  { name: 'SqliteStore interleaving at every call', kind: 'sqlite', interleaving: true },
  { name: `PostgresStore, pool of ${POOL_SIZE}`, kind: 'postgres', interleaving: false },
] as const

describe.each(setups)('REL-02 overload of the store connections ($name)', (setup) => {
  let t: TestServer
  let alice: UserRecord
  let dir: string
  let opened: KindStore | undefined
  let refreshTokens: string[] = []

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rel02-'))
    let store: Store | undefined
    if (setup.kind === 'postgres') {
      opened = await openKindStore('postgres', dir, { postgres: { poolSize: POOL_SIZE } })
      store = opened.store
    } else if (setup.interleaving) {
      store = new InterleavingSqliteStore({ file: join(dir, 'tessera.db'), synchronous: 'NORMAL' })
    }
    t = await startTestServer({ dir, ...(store ? { store } : {}) })
    alice = await t.createUser('alice')
  })
  /** Runs the burst; on PostgreSQL, also proves that requests queued for a pooled connection. */
  async function burst(bodies: string[]): Promise<RawResponse[]> {
    const pg = opened?.store as PostgresStore | undefined
    let maxWaiting = 0
    const sampler = setInterval(() => {
      if (pg) maxWaiting = Math.max(maxWaiting, pg.poolStats().waiting)
    }, 2)
    try {
      return await barrierPost(t.url + '/oauth/token', bodies)
    } finally {
      clearInterval(sampler)
      if (pg) {
        expect(maxWaiting).toBeGreaterThan(0)
        expect(pg.poolStats().total).toBeLessThanOrEqual(POOL_SIZE)
      }
    }
  }

  afterAll(async () => {
    await t.close()
    await opened?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it(`REL-02 ${SESSIONS} simultaneous code redemptions are all answered 200, each code consumed once into its own session`, async () => {
    const codes = []
    for (let i = 0; i < SESSIONS; i++) codes.push(await mintCode(t, alice))
    const responses = await burst(codes.map((c) => formBody(codeForm(c))))
    expect(responses.map((r) => r.status)).toStrictEqual(codes.map(() => 200))
    refreshTokens = responses.map((r) => r.body.refresh_token as string)
    expect(new Set(refreshTokens.map(sessionIdOf)).size).toBe(SESSIONS)
    for (const [i, c] of codes.entries()) {
      const rec = (await t.store.getCode(sha256b64u(c.code)))!
      expect(rec.consumedAt).not.toBeNull()
      expect(rec.sessionId).toBe(sessionIdOf(refreshTokens[i]!))
    }
    const sessions = await t.store.listSessions({ userId: alice.id, limit: 1000 })
    expect(sessions).toHaveLength(SESSIONS)
    expect(sessions.every((s) => s.state === 'active' && s.generation === 0)).toBe(true)
  })

  it(`REL-02 ${2 * SESSIONS} simultaneous refreshes (each token twice) are all answered, no 5xx, each family rotated exactly once`, async () => {
    expect(refreshTokens).toHaveLength(SESSIONS)
    const bodies = refreshTokens.flatMap((rt) => [
      formBody(refreshForm(rt)),
      formBody(refreshForm(rt)),
    ])
    const responses = await burst(bodies)
    expect(responses).toHaveLength(2 * SESSIONS)
    for (const r of responses) expect(r.status, JSON.stringify(r.body)).toBe(200)
    for (const [i, rt] of refreshTokens.entries()) {
      const a = responses[2 * i]!.body.refresh_token as string
      const b = responses[2 * i + 1]!.body.refresh_token as string
      // Both requests of a pair converge on the same child (one rotation, one grace replay).
      expect(a).toBe(b)
      expect(generationOf(a)).toBe(1)
      const s = (await t.store.getSession(sessionIdOf(rt)))!
      expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 1])
    }
    expect(await t.store.listEvents({ type: 'refresh_token_reuse' })).toEqual([])
  })
})
