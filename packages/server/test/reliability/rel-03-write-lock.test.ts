import BetterSqlite3 from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { generationOf, holdWriteLock, refreshForm, sessionIdOf } from './support.js'

/**
 * REL-03: the write of a rotation, a grace replay, a reuse revocation or a code redemption meets a
 * lock it cannot get (SQLite's form of a serialization failure: another connection holds the write
 * lock). The server waits a bounded time (the store's busy timeout) and then answers a retryable
 * 503 temporarily_unavailable with Retry-After, never a 500, with nothing written; or, if the lock
 * is released within the wait, it succeeds. The client's retry then gets the normal outcome: the
 * failed attempt neither rotated, nor counted as a replay, nor looked like reuse.
 */

/** The server's busy timeout here: short, so the 503 cases cost a quarter second each. */
const BUSY_MS = 250

let t: TestServer
let alice: UserRecord
let dir: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-rel03-'))
  const store = new SqliteStore({
    file: join(dir, 'tessera.db'),
    synchronous: 'NORMAL',
    busyTimeoutMs: BUSY_MS,
  })
  t = await startTestServer({ dir, store })
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
  rmSync(dir, { recursive: true, force: true })
})

const token = (form: Record<string, string>) => postForm(t.url + '/oauth/token', form)

async function signIn(): Promise<string> {
  const c = await mintCode(t, alice)
  const r = await token({
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: c.redirectUri,
    client_id: c.clientId,
  })
  expect(r.status).toBe(200)
  return r.body.refresh_token as string
}

/** Runs `fn` while a second connection to the database holds the write lock. */
async function underWriteLock<T>(fn: () => Promise<T>): Promise<T> {
  const other = new BetterSqlite3(t.dbFile)
  other.exec('BEGIN IMMEDIATE')
  try {
    return await fn()
  } finally {
    other.exec('ROLLBACK')
    other.close()
  }
}

function expectRetryable503(r: { status: number; headers: Headers; body: any }): void {
  expect(r.status, JSON.stringify(r.body)).toBe(503)
  expect(r.body.error).toBe('temporarily_unavailable')
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  expect(r.headers.get('cache-control')).toBe('no-store')
  expect(r.body.access_token).toBeUndefined()
  expect(r.body.refresh_token).toBeUndefined()
}

describe('REL-03 a write that cannot get the database lock', () => {
  it('REL-03 rotation under a held write lock: bounded wait, 503 with Retry-After, nothing written; the retry rotates once', async () => {
    const rt0 = await signIn()
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])

    const retry = await token(refreshForm(rt0))
    expect(retry.status).toBe(200)
    expect(generationOf(retry.body.refresh_token as string)).toBe(1)
    const after = (await t.store.getSession(sid))!
    expect([after.state, after.generation, after.graceUses]).toStrictEqual(['active', 1, 0])
  })

  it('REL-03 code redemption under a held write lock: 503, the code stays unconsumed and no session row exists; the retry succeeds', async () => {
    const c = await mintCode(t, alice)
    const form = {
      grant_type: 'authorization_code',
      code: c.code,
      code_verifier: c.verifier,
      redirect_uri: c.redirectUri,
      client_id: c.clientId,
    }
    const sessionsBefore = await t.store.listSessions({ userId: alice.id, limit: 1000 })

    const r = await underWriteLock(() => token(form))
    expectRetryable503(r)
    const code = (await t.store.getCode(sha256b64u(c.code)))!
    expect([code.consumedAt, code.sessionId]).toStrictEqual([null, null])
    expect(await t.store.listSessions({ userId: alice.id, limit: 1000 })).toStrictEqual(
      sessionsBefore,
    )

    const retry = await token(form)
    expect(retry.status).toBe(200)
    const sid = sessionIdOf(retry.body.refresh_token as string)
    expect((await t.store.getCode(sha256b64u(c.code)))!.sessionId).toBe(sid)
    expect((await t.store.getSession(sid))!.state).toBe('active')
  })

  it('REL-03 grace replay under a held write lock: 503, the replay is not counted; the retry returns the current child', async () => {
    const rt0 = await signIn()
    const rotated = await token(refreshForm(rt0))
    const rt1 = rotated.body.refresh_token as string
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)

    const retry = await token(refreshForm(rt0))
    expect(retry.status).toBe(200)
    expect(retry.body.refresh_token).toBe(rt1)
    const after = (await t.store.getSession(sid))!
    expect([after.generation, after.graceUses]).toStrictEqual([1, 1])
  })

  it('REL-03 reuse detection under a held write lock: 503 and no half revocation; the retry revokes with its event', async () => {
    const rt0 = await signIn()
    const rt1 = (await token(refreshForm(rt0))).body.refresh_token as string
    await token(refreshForm(rt1))
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])

    const retry = await token(refreshForm(rt0))
    expect(retry.status).toBe(400)
    expect(retry.body.error).toBe('invalid_grant')
    const after = (await t.store.getSession(sid))!
    expect([after.state, after.reason]).toStrictEqual(['revoked', 'refresh_token_reuse'])
    const events = await t.store.listEvents({ sessionId: sid })
    expect(events.map((e) => e.type)).toStrictEqual(['refresh_token_reuse'])
  })

  it('REL-03 a lock another process releases within the wait: the rotation waits and succeeds', async () => {
    // A second server with the default busy timeout (5 s); the other process holds the lock 300 ms.
    const dir2 = mkdtempSync(join(tmpdir(), 'tessera-rel03b-'))
    const t2 = await startTestServer({
      dir: dir2,
      store: new SqliteStore({ file: join(dir2, 'tessera.db'), synchronous: 'NORMAL' }),
    })
    try {
      const user = await t2.createUser('bob')
      const c = await mintCode(t2, user)
      const first = await postForm(t2.url + '/oauth/token', {
        grant_type: 'authorization_code',
        code: c.code,
        code_verifier: c.verifier,
        redirect_uri: c.redirectUri,
        client_id: c.clientId,
      })
      const rt0 = first.body.refresh_token as string

      const lock = await holdWriteLock(t2.dbFile, 300)
      const r = await postForm(t2.url + '/oauth/token', refreshForm(rt0))
      await lock.released
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(generationOf(r.body.refresh_token as string)).toBe(1)
      const s = (await t2.store.getSession(sessionIdOf(rt0)))!
      expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 0])
    } finally {
      await t2.close()
      rmSync(dir2, { recursive: true, force: true })
    }
  })
})
