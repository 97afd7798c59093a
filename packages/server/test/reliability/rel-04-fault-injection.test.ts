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
  openKindStore,
  refreshForm,
  sessionIdOf,
  type KindStore,
  type StoreKind,
} from './support.js'
import { isActive } from '../token/fixtures.js'

/**
 * REL-04: a fault at each write of a rotation and of a code redemption, injected with a real
 * trigger created on the test database by a second connection: SQLite `RAISE(ABORT, ...)`, or a
 * PostgreSQL PL/pgSQL `RAISE EXCEPTION`. While the fault is in place the request fails without
 * tokens, and the family is in exactly one of two states: old token valid and new absent, or old
 * used and new valid; never both, never neither. Once the trigger is dropped the same request
 * succeeds.
 *
 * The writes, as the server makes them (access and refresh tokens are never stored: an access
 * token is a JWT, a refresh token is derived from the session's generation):
 * - rotation: one UPDATE of the session row (the compare-and-set that marks the parent used and
 *   makes the child current);
 * - grace replay: one UPDATE of the session row (the replay count);
 * - code redemption, one transaction: UPDATE of the code (consumed), INSERT of the session (the
 *   new refresh family), COMMIT;
 * - reuse revocation, one transaction: UPDATE of the session (revoked), INSERT of the security event.
 * Each gets a fault before and after its write. An AFTER trigger on the last write of a
 * transaction fails it at the last moment before COMMIT; on PostgreSQL the AFTER faults are
 * deferred constraint triggers, which fire inside COMMIT itself.
 */

const KINDS: StoreKind[] = ['sqlite', 'postgres']

let t: TestServer
let alice: UserRecord
let dir: string
let opened: KindStore
let sqlite: BetterSqlite3.Database | undefined
let admin: pg.Client | undefined

type Timing = 'BEFORE' | 'AFTER'
type Op = 'INSERT' | 'UPDATE'

/** Runs `fn` with a trigger that aborts every `op` on `table`. */
async function withFault<T>(
  timing: Timing,
  op: Op,
  table: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (sqlite) {
    sqlite.exec(
      `CREATE TRIGGER injected_fault ${timing} ${op} ON ${table} ` +
        `BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
    )
  } else {
    const kind = timing === 'AFTER' ? 'constraint trigger' : 'trigger'
    const deferred = timing === 'AFTER' ? 'deferrable initially deferred' : ''
    await admin!.query(
      `create ${kind} injected_fault ${timing} ${op} on ${table} ${deferred} ` +
        `for each row execute function injected_fault()`,
    )
  }
  try {
    return await fn()
  } finally {
    if (sqlite) sqlite.exec('DROP TRIGGER injected_fault')
    else await admin!.query(`drop trigger injected_fault on ${table}`)
  }
}

const token = (form: Record<string, string>) => postForm(t.url + '/oauth/token', form)

function expectFailedWithoutTokens(r: { status: number; body: any }): void {
  expect(r.status, JSON.stringify(r.body)).toBe(500)
  expect(r.body.error).toBe('server_error')
  expect(r.body.access_token).toBeUndefined()
  expect(r.body.refresh_token).toBeUndefined()
}

/** Is this refresh token live? The introspection judgement (web-app is public: nobody may ask
 * the endpoint about its refresh tokens, SES-12). */
async function live(refreshToken: string): Promise<boolean> {
  return isActive(t, refreshToken)
}

function redeemForm(c: Awaited<ReturnType<typeof mintCode>>): Record<string, string> {
  return codeForm(c)
}

async function signIn(): Promise<string> {
  const r = await token(redeemForm(await mintCode(t, alice)))
  expect(r.status).toBe(200)
  return r.body.refresh_token as string
}

/** The token of generation `g` of the family of `rt` (the server's own codec). */
async function tokenOfGeneration(rt: string, g: number): Promise<string> {
  const s = (await t.store.getSession(sessionIdOf(rt)))!
  return t.server.ctx.refreshTokens.encode(s.id, g, s.salt)
}

const sessionWrites: [Timing, Op, string, string][] = [
  ['BEFORE', 'UPDATE', 'sessions', 'marking the parent used (the compare-and-set)'],
  ['AFTER', 'UPDATE', 'sessions', 'after the compare-and-set, before commit'],
]

const redemptionWrites: [Timing, Op, string, string][] = [
  ['BEFORE', 'UPDATE', 'authorization_codes', 'marking the code consumed'],
  ['AFTER', 'UPDATE', 'authorization_codes', 'after marking the code consumed'],
  ['BEFORE', 'INSERT', 'sessions', 'inserting the session (the refresh family)'],
  ['AFTER', 'INSERT', 'sessions', 'after inserting the session, just before commit'],
]

const revocationWrites: [Timing, Op, string, string][] = [
  ['BEFORE', 'UPDATE', 'sessions', 'revoking the session'],
  ['BEFORE', 'INSERT', 'security_events', 'recording the reuse event'],
  ['AFTER', 'INSERT', 'security_events', 'after recording the event, just before commit'],
]

describe.each(KINDS)('REL-04 fault injected at each write (%s)', (kind) => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rel04-'))
    opened = await openKindStore(kind, dir)
    t = await startTestServer({ dir, store: opened.store })
    alice = await t.createUser('alice')
    if (kind === 'sqlite') {
      sqlite = new BetterSqlite3(t.dbFile)
    } else {
      admin = await opened.schema!.admin()
      await admin.query(
        `create function injected_fault() returns trigger language plpgsql as $$ ` +
          `begin raise exception 'injected fault'; end $$`,
      )
    }
  })
  afterAll(async () => {
    sqlite?.close()
    sqlite = undefined
    await admin?.end()
    admin = undefined
    await t.close()
    await opened.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  describe.each(sessionWrites)('rotation, fault %s %s on %s (%s)', (timing, op, table) => {
    it('REL-04 rotation fails without tokens: old token valid, new absent; after the fault it rotates', async () => {
      const rt0 = await signIn()
      const sid = sessionIdOf(rt0)
      const before = await t.store.getSession(sid)
      const rt1 = await tokenOfGeneration(rt0, 1)

      const r = await withFault(timing, op, table, () => token(refreshForm(rt0)))
      expectFailedWithoutTokens(r)
      expect(await t.store.getSession(sid)).toStrictEqual(before)
      expect([await live(rt0), await live(rt1)]).toStrictEqual([true, false])

      const retry = await token(refreshForm(rt0))
      expect(retry.status).toBe(200)
      expect(retry.body.refresh_token).toBe(rt1)
      expect([await live(rt0), await live(rt1)]).toStrictEqual([false, true])
      expect((await t.store.getSession(sid))!.generation).toBe(1)
    })

    it('REL-04 grace replay fails without tokens and is not counted; after the fault it returns the child', async () => {
      const rt0 = await signIn()
      const rt1 = (await token(refreshForm(rt0))).body.refresh_token as string
      const sid = sessionIdOf(rt0)
      const before = await t.store.getSession(sid)

      const r = await withFault(timing, op, table, () => token(refreshForm(rt0)))
      expectFailedWithoutTokens(r)
      expect(await t.store.getSession(sid)).toStrictEqual(before)
      expect(await live(rt1)).toBe(true)

      const retry = await token(refreshForm(rt0))
      expect(retry.status).toBe(200)
      expect(retry.body.refresh_token).toBe(rt1)
      const after = (await t.store.getSession(sid))!
      expect([after.generation, after.graceUses]).toStrictEqual([1, 1])
    })
  })

  it.each(redemptionWrites)(
    'REL-04 code redemption, fault %s %s on %s (%s): no tokens, code unconsumed, no family; after the fault it redeems',
    async (timing, op, table) => {
      const c = await mintCode(t, alice)
      const codeHash = sha256b64u(c.code)
      const sessionsBefore = await t.store.listSessions({ userId: alice.id, limit: 1000 })

      const r = await withFault(timing, op, table, () => token(redeemForm(c)))
      expectFailedWithoutTokens(r)
      const code = (await t.store.getCode(codeHash))!
      expect([code.consumedAt, code.sessionId]).toStrictEqual([null, null])
      expect(await t.store.listSessions({ userId: alice.id, limit: 1000 })).toStrictEqual(
        sessionsBefore,
      )

      const retry = await token(redeemForm(c))
      expect(retry.status).toBe(200)
      const sid = sessionIdOf(retry.body.refresh_token as string)
      expect((await t.store.getCode(codeHash))!.sessionId).toBe(sid)
      expect(await live(retry.body.refresh_token as string)).toBe(true)
    },
  )

  it.each(revocationWrites)(
    'REL-04 reuse revocation, fault %s %s on %s (%s): the session is revoked with its event or not at all',
    async (timing, op, table) => {
      const rt0 = await signIn()
      const rt1 = (await token(refreshForm(rt0))).body.refresh_token as string
      const rt2 = (await token(refreshForm(rt1))).body.refresh_token as string
      expect(generationOf(rt2)).toBe(2)
      const sid = sessionIdOf(rt0)
      const before = await t.store.getSession(sid)

      // rt0 is a grandparent: presenting it is reuse, which revokes the session.
      const r = await withFault(timing, op, table, () => token(refreshForm(rt0)))
      expectFailedWithoutTokens(r)
      expect(await t.store.getSession(sid)).toStrictEqual(before)
      expect(await t.store.listEvents({ sessionId: sid })).toEqual([])
      expect(await live(rt2)).toBe(true)

      const retry = await token(refreshForm(rt0))
      expect(retry.status).toBe(400)
      expect(retry.body.error).toBe('invalid_grant')
      const after = (await t.store.getSession(sid))!
      expect([after.state, after.reason]).toStrictEqual(['revoked', 'refresh_token_reuse'])
      expect((await t.store.listEvents({ sessionId: sid })).map((e) => e.type)).toStrictEqual([
        'refresh_token_reuse',
      ])
      expect(await live(rt2)).toBe(false)
    },
  )
})
