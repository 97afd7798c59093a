import BetterSqlite3 from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm, codeForm } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import {
  generationOf,
  holdWriteLock,
  openKindStore,
  refreshForm,
  sessionIdOf,
  type KindStore,
  type StoreKind,
} from './support.js'

/**
 * REL-03: the write of a rotation, a grace replay, a reuse revocation or a code redemption meets a
 * lock it cannot get: on SQLite another connection holds the write lock; on PostgreSQL another
 * connection holds an EXCLUSIVE lock on the tables written (reads go on, writes wait). The server
 * waits a bounded time (SQLite's busy timeout, PostgreSQL's statement_timeout) and then answers a
 * retryable 503 temporarily_unavailable with Retry-After, never a 500, with nothing written; or,
 * if the lock is released within the wait, it succeeds. The client's retry then gets the normal
 * outcome: the failed attempt neither rotated, nor counted as a replay, nor looked like reuse.
 *
 * PostgreSQL can also fail a transaction with a serialization failure (40001) or a deadlock
 * (40P01); the last describe block injects both for real and checks the bounded retry. SQLite has
 * one writer and no row locks, so neither can happen there: that block runs on PostgreSQL only.
 */

/** The server's bounded wait here: short, so the 503 cases cost a quarter second each. */
const BUSY_MS = 250

const KINDS: StoreKind[] = ['sqlite', 'postgres']

const token = (t: TestServer, form: Record<string, string>) =>
  postForm(t.url + '/oauth/token', form)

async function signIn(t: TestServer, alice: UserRecord): Promise<string> {
  const c = await mintCode(t, alice)
  const r = await token(t, redeemForm(c))
  expect(r.status).toBe(200)
  return r.body.refresh_token as string
}

function redeemForm(c: Awaited<ReturnType<typeof mintCode>>): Record<string, string> {
  return codeForm(c)
}

/** Takes the write lock on another connection; resolves to its release. */
async function takeWriteLock(t: TestServer, opened: KindStore): Promise<() => Promise<void>> {
  if (!opened.schema) {
    const other = new BetterSqlite3(t.dbFile)
    other.exec('BEGIN IMMEDIATE')
    return () => {
      other.exec('ROLLBACK')
      other.close()
      return Promise.resolve()
    }
  }
  const other = await opened.schema.admin()
  await other.query('begin')
  await other.query('lock table sessions, authorization_codes, security_events in exclusive mode')
  return async () => {
    await other.query('rollback')
    await other.end()
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

describe.each(KINDS)('REL-03 a write that cannot get the database lock (%s)', (kind) => {
  let t: TestServer
  let alice: UserRecord
  let dir: string
  let opened: KindStore

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rel03-'))
    opened = await openKindStore(kind, dir, {
      sqlite: { busyTimeoutMs: BUSY_MS },
      postgres: { statementTimeoutMs: BUSY_MS },
    })
    t = await startTestServer({ dir, store: opened.store })
    alice = await t.createUser('alice')
  })
  afterAll(async () => {
    await t.close()
    await opened.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Runs `fn` while a second connection to the database holds the write lock. */
  async function underWriteLock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await takeWriteLock(t, opened)
    try {
      return await fn()
    } finally {
      await release()
    }
  }

  it('REL-03 rotation under a held write lock: bounded wait, 503 with Retry-After, nothing written; the retry rotates once', async () => {
    const rt0 = await signIn(t, alice)
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(t, refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])

    const retry = await token(t, refreshForm(rt0))
    expect(retry.status).toBe(200)
    expect(generationOf(retry.body.refresh_token as string)).toBe(1)
    const after = (await t.store.getSession(sid))!
    expect([after.state, after.generation, after.graceUses]).toStrictEqual(['active', 1, 0])
  })

  it('REL-03 code redemption under a held write lock: 503, the code stays unconsumed and no session row exists; the retry succeeds', async () => {
    const c = await mintCode(t, alice)
    const form = redeemForm(c)
    const sessionsBefore = await t.store.listSessions({ userId: alice.id, limit: 1000 })

    const r = await underWriteLock(() => token(t, form))
    expectRetryable503(r)
    const code = (await t.store.getCode(sha256b64u(c.code)))!
    expect([code.consumedAt, code.sessionId]).toStrictEqual([null, null])
    expect(await t.store.listSessions({ userId: alice.id, limit: 1000 })).toStrictEqual(
      sessionsBefore,
    )

    const retry = await token(t, form)
    expect(retry.status).toBe(200)
    const sid = sessionIdOf(retry.body.refresh_token as string)
    expect((await t.store.getCode(sha256b64u(c.code)))!.sessionId).toBe(sid)
    expect((await t.store.getSession(sid))!.state).toBe('active')
  })

  it('REL-03 grace replay under a held write lock: 503, the replay is not counted; the retry returns the current child', async () => {
    const rt0 = await signIn(t, alice)
    const rotated = await token(t, refreshForm(rt0))
    const rt1 = rotated.body.refresh_token as string
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(t, refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)

    const retry = await token(t, refreshForm(rt0))
    expect(retry.status).toBe(200)
    expect(retry.body.refresh_token).toBe(rt1)
    const after = (await t.store.getSession(sid))!
    expect([after.generation, after.graceUses]).toStrictEqual([1, 1])
  })

  it('REL-03 reuse detection under a held write lock: 503 and no half revocation; the retry revokes with its event', async () => {
    const rt0 = await signIn(t, alice)
    const rt1 = (await token(t, refreshForm(rt0))).body.refresh_token as string
    await token(t, refreshForm(rt1))
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)

    const r = await underWriteLock(() => token(t, refreshForm(rt0)))
    expectRetryable503(r)
    expect(await t.store.getSession(sid)).toStrictEqual(before)
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])

    const retry = await token(t, refreshForm(rt0))
    expect(retry.status).toBe(400)
    expect(retry.body.error).toBe('invalid_grant')
    const after = (await t.store.getSession(sid))!
    expect([after.state, after.reason]).toStrictEqual(['revoked', 'refresh_token_reuse'])
    const events = await t.store.listEvents({ sessionId: sid })
    expect(events.map((e) => e.type)).toStrictEqual(['refresh_token_reuse'])
  })

  it('REL-03 a lock another connection releases within the wait: the rotation waits and succeeds', async () => {
    // A second server with the default wait (5 s); the other connection holds the lock 300 ms.
    const dir2 = mkdtempSync(join(tmpdir(), 'tessera-rel03b-'))
    const opened2 = await openKindStore(kind, dir2)
    const t2 = await startTestServer({ dir: dir2, store: opened2.store })
    try {
      const user = await t2.createUser('bob')
      const rt0 = await signIn(t2, user)

      let released: Promise<void>
      if (kind === 'sqlite') {
        // better-sqlite3 blocks its whole process while it waits, so the holder is another one.
        released = (await holdWriteLock(t2.dbFile, 300)).released
      } else {
        const release = await takeWriteLock(t2, opened2)
        released = new Promise((r) => setTimeout(r, 300)).then(release)
      }
      const r = await token(t2, refreshForm(rt0))
      await released
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(generationOf(r.body.refresh_token as string)).toBe(1)
      const s = (await t2.store.getSession(sessionIdOf(rt0)))!
      expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 0])
    } finally {
      await t2.close()
      await opened2.cleanup()
      rmSync(dir2, { recursive: true, force: true })
    }
  })
})

/**
 * Serialization failures and deadlocks, injected for real on PostgreSQL (see the file comment for
 * why SQLite has none). The store retries a transaction that failed with 40001 or 40P01 up to
 * MAX_ATTEMPTS times in all; after that the request is answered 503 with Retry-After and nothing
 * of it is written.
 */
describe('REL-03 serialization failure and deadlock during rotation (postgres)', () => {
  const MAX_ATTEMPTS = 4
  let t: TestServer
  let alice: UserRecord
  let dir: string
  let opened: KindStore
  let admin: pg.Client

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rel03c-'))
    opened = await openKindStore('postgres', dir, { postgres: { maxAttempts: MAX_ATTEMPTS } })
    t = await startTestServer({ dir, store: opened.store })
    alice = await t.createUser('alice')
    admin = await opened.schema!.admin()
    // Attempts are counted by a sequence: nextval survives the rollback of the failed attempt.
    await admin.query(`
      create sequence attempts;
      create table fault_budget (failures bigint not null);
      insert into fault_budget values (0);
      create table deadlock_gate (id int primary key);
      insert into deadlock_gate values (1);
      create function serialization_fault() returns trigger language plpgsql as $$
      begin
        if nextval('attempts') <= (select failures from fault_budget) then
          raise exception 'injected serialization failure' using errcode = '40001';
        end if;
        return new;
      end $$;
      create function take_gate() returns trigger language plpgsql as $$
      begin
        perform nextval('attempts');
        perform 1 from deadlock_gate where id = 1 for update;
        return new;
      end $$;
    `)
  })
  afterAll(async () => {
    await admin.end()
    await t.close()
    await opened.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  /** Fails the first `failures` attempts at `event` (e.g. `before update on sessions`) with 40001. */
  async function withSerializationFaults<T>(
    failures: number,
    event: string,
    fn: () => Promise<T>,
  ): Promise<{ result: T; attempts: number }> {
    await admin.query(`alter sequence attempts restart with 1`)
    await admin.query(`update fault_budget set failures = $1`, [failures])
    await admin.query(
      `create trigger serialization_fault ${event} for each row execute function serialization_fault()`,
    )
    try {
      const result = await fn()
      const { rows } = await admin.query<{ n: string }>(
        `select case when is_called then last_value else 0 end as n from attempts`,
      )
      return { result, attempts: Number(rows[0]!.n) }
    } finally {
      const table = event.split(' on ')[1]!
      await admin.query(`drop trigger serialization_fault on ${table}`)
    }
  }

  it('REL-03 a rotation failing with 40001 twice is retried inside the server and rotates exactly once', async () => {
    const rt0 = await signIn(t, alice)
    const sid = sessionIdOf(rt0)
    const { result: r, attempts } = await withSerializationFaults(
      2,
      'before update on sessions',
      () => token(t, refreshForm(rt0)),
    )
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(attempts).toBe(3)
    expect(generationOf(r.body.refresh_token as string)).toBe(1)
    const s = (await t.store.getSession(sid))!
    expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 0])
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])
  })

  it('REL-03 a rotation that keeps failing with 40001: bounded retries, then 503 with Retry-After and nothing written', async () => {
    const rt0 = await signIn(t, alice)
    const sid = sessionIdOf(rt0)
    const before = await t.store.getSession(sid)
    const { result: r, attempts } = await withSerializationFaults(
      1000,
      'before update on sessions',
      () => token(t, refreshForm(rt0)),
    )
    expectRetryable503(r)
    expect(r.body.error_description).toBe('the service is busy, retry')
    expect(attempts).toBe(MAX_ATTEMPTS)
    expect(await t.store.getSession(sid)).toStrictEqual(before)
    expect(await t.store.listEvents({ sessionId: sid })).toEqual([])

    const retry = await token(t, refreshForm(rt0))
    expect(retry.status).toBe(200)
    expect(generationOf(retry.body.refresh_token as string)).toBe(1)
  })

  it('REL-03 a code redemption failing with 40001 at its second write: no partial rows, then one session', async () => {
    // The failure comes at the session insert, after the code was marked consumed in the same
    // transaction: every failed attempt must roll that back.
    const c = await mintCode(t, alice)
    const codeHash = sha256b64u(c.code)
    const sessionsBefore = await t.store.listSessions({ userId: alice.id, limit: 1000 })

    const failed = await withSerializationFaults(1000, 'before insert on sessions', () =>
      token(t, redeemForm(c)),
    )
    expectRetryable503(failed.result)
    expect(failed.attempts).toBe(MAX_ATTEMPTS)
    const code = (await t.store.getCode(codeHash))!
    expect([code.consumedAt, code.sessionId]).toStrictEqual([null, null])
    expect(await t.store.listSessions({ userId: alice.id, limit: 1000 })).toStrictEqual(
      sessionsBefore,
    )

    const ok = await withSerializationFaults(1, 'before insert on sessions', () =>
      token(t, redeemForm(c)),
    )
    expect(ok.result.status, JSON.stringify(ok.result.body)).toBe(200)
    expect(ok.attempts).toBe(2)
    const sid = sessionIdOf(ok.result.body.refresh_token as string)
    expect((await t.store.getCode(codeHash))!.sessionId).toBe(sid)
    const after = await t.store.listSessions({ userId: alice.id, limit: 1000 })
    expect(after).toHaveLength(sessionsBefore.length + 1)
  })

  it('REL-03 a real deadlock with another transaction during rotation: the server is the victim, retries and rotates once', async () => {
    const rt0 = await signIn(t, alice)
    const sid = sessionIdOf(rt0)
    await admin.query(`alter sequence attempts restart with 1`)
    // The rotation's UPDATE locks the session row, then its trigger wants the gate row.
    await admin.query(
      `create trigger take_gate before update on sessions for each row ` +
        `when (old.generation <> new.generation) execute function take_gate()`,
    )
    const other = await opened.schema!.admin()
    try {
      // The other transaction holds the gate and, after the server is waiting for it, wants the
      // session row: a cycle. It waits 10 s before checking for deadlocks, the server's connection
      // the default 1 s, so the server's transaction is the one PostgreSQL aborts (40P01).
      await other.query('begin')
      await other.query(`set local deadlock_timeout = '10s'`)
      await other.query('select 1 from deadlock_gate where id = 1 for update')
      const { rows } = await other.query<{ pid: number }>('select pg_backend_pid() as pid')
      const otherPid = rows[0]!.pid

      const pending = token(t, refreshForm(rt0))
      await waitUntil(async () => {
        const blocked = await admin.query<{ n: string }>(
          'select count(*) as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [otherPid],
        )
        return Number(blocked.rows[0]!.n) > 0
      })
      // Blocks on the session row until PostgreSQL breaks the cycle by aborting the server's side.
      await other.query('update sessions set ip = ip where id = $1', [sid])
      await other.query('commit')

      const r = await pending
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(generationOf(r.body.refresh_token as string)).toBe(1)
      const { rows: seq } = await admin.query<{ n: string }>('select last_value as n from attempts')
      // One attempt aborted by the deadlock, one that succeeded.
      expect(Number(seq[0]!.n)).toBe(2)
      const s = (await t.store.getSession(sid))!
      expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 0])
    } finally {
      await other.end()
      await admin.query('drop trigger take_gate on sessions')
    }
  })
})

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
