import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type pg from 'pg'
import { describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { adminClient, createTestSchema, PG_URL } from '../helpers/postgres.js'
import { runStoreConformance } from './conformance.js'
import {
  apiRecord,
  clientRecord,
  codeRecord,
  eventRecord,
  FAR,
  sessionRecord,
  T0,
  userRecord,
} from './records.js'

/** The same suite as SQLite, unchanged, on the machine's PostgreSQL: a fresh schema per test. */
runStoreConformance('PostgresStore (fresh schema, pool of 5)', async () => {
  const schema = await createTestSchema()
  const store = schema.store({ poolSize: 5 })
  return {
    store,
    async cleanup() {
      await store.close()
      await schema.drop()
    },
  }
})

/** Reads a server setting through the store's own pool. */
class SettingProbe extends PostgresStore {
  async setting(name: 'search_path' | 'work_mem' | 'statement_timeout'): Promise<string> {
    const { rows } = await sql<{ v: string }>`select current_setting(${name}) as v`.execute(this.db)
    return rows[0]!.v
  }
}

describe('PostgresStore connection settings', () => {
  it('schema, statement timeout and the URL options parameter all reach the connection', async () => {
    const schema = await createTestSchema()
    const url = `${PG_URL}?options=${encodeURIComponent('-c work_mem=3MB')}`
    const store = new SettingProbe({ url, schema: schema.name, statementTimeoutMs: 1234 })
    try {
      expect(await store.setting('search_path')).toBe(schema.name)
      expect(await store.setting('work_mem')).toBe('3MB')
      expect(await store.setting('statement_timeout')).toBe('1234ms')
    } finally {
      await store.close()
      await schema.drop()
    }
  })

  it('migrations are not bound by the request statement timeout: they wait out another instance migrating', async () => {
    const schema = await createTestSchema()
    const other = await adminClient()
    // Kysely's migration lock: another instance is migrating and holds it for 600 ms.
    await other.query('select pg_advisory_lock(3853314791062309107)')
    const released = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        other.query('select pg_advisory_unlock(3853314791062309107)').then(() => resolve(), reject)
      }, 600)
    })
    const store = new SettingProbe({ url: PG_URL, schema: schema.name, statementTimeoutMs: 150 })
    try {
      await store.migrate()
      await released
      expect(await store.listClients()).toEqual([])
      // Requests still get the short bound.
      expect(await store.setting('statement_timeout')).toBe('150ms')
    } finally {
      await released.catch(() => undefined)
      await other.end()
      await store.close()
      await schema.drop()
    }
  })

  it('refuses settings it cannot use, before connecting', () => {
    expect(() => new PostgresStore({ url: PG_URL, poolSize: 0 })).toThrow(/poolSize/)
    expect(() => new PostgresStore({ url: PG_URL, schema: 'x; drop table y' })).toThrow(/schema/)
    expect(() => new PostgresStore({ url: PG_URL, statementTimeoutMs: 1.5 })).toThrow(
      /statementTimeoutMs/,
    )
  })
})

/**
 * Kysely's migrator introspects every schema of the database by name; one that another session
 * drops at that moment fails the query with 3F000 (seen when test files drop their schemas in
 * parallel). The first `failures` migrations here meet that real PostgreSQL error.
 */
class UnrelatedSchemaDropped extends PostgresStore {
  attempts = 0
  constructor(
    opts: ConstructorParameters<typeof PostgresStore>[0],
    readonly failures: number,
  ) {
    super(opts)
  }
  protected override async migratorOptions(): Promise<{ migrationTableSchema?: string }> {
    if (++this.attempts <= this.failures) {
      await sql`select has_schema_privilege('tessera_dropped_meanwhile', 'USAGE')`.execute(this.db)
    }
    return super.migratorOptions()
  }
}

describe('PostgresStore migrations', () => {
  it('a schema dropped by another session during the migration check is retried, and migrating succeeds', async () => {
    const schema = await createTestSchema()
    const store = new UnrelatedSchemaDropped({ url: PG_URL, schema: schema.name }, 2)
    try {
      await store.migrate()
      expect(store.attempts).toBe(3)
      expect(await store.listClients()).toEqual([])
    } finally {
      await store.close()
      await schema.drop()
    }
  })

  it('gives up after three attempts with the database error', async () => {
    const schema = await createTestSchema()
    const store = new UnrelatedSchemaDropped({ url: PG_URL, schema: schema.name }, 5)
    try {
      await expect(store.migrate()).rejects.toMatchObject({ code: '3F000' })
      expect(store.attempts).toBe(3)
    } finally {
      await store.close()
      await schema.drop()
    }
  })
})

/**
 * Pauses a store's own transaction right after one of its statements, until released: a trigger on
 * the table waits for an advisory lock the test holds. The store runs its real SQL; the pause and
 * the waits below are observed in PostgreSQL (pg_locks, pg_blocking_pids), never slept on.
 */
async function pauseAfter(
  admin: pg.Client,
  event: 'insert' | 'update' | 'delete',
  table: string,
): Promise<{ paused(): Promise<number>; release(): Promise<void> }> {
  const key = randomBytes(4).readInt32BE(0)
  await admin.query(`create or replace function pause_here() returns trigger language plpgsql as $$
    begin perform pg_advisory_xact_lock(${key}); return null; end $$`)
  await admin.query(
    `create trigger pause_here after ${event} on ${table} for each statement execute function pause_here()`,
  )
  await admin.query('select pg_advisory_lock($1)', [key])
  return {
    /** Resolves to the backend pid of the transaction once it waits at the pause. */
    async paused() {
      for (;;) {
        const { rows } = await admin.query<{ pid: number }>(
          `select pid from pg_locks where locktype = 'advisory' and not granted
             and ((classid::bigint << 32) | objid::bigint)::int = $1`,
          [key],
        )
        if (rows[0]) return rows[0].pid
        await new Promise((r) => setTimeout(r, 10))
      }
    },
    async release() {
      await admin.query('select pg_advisory_unlock($1)', [key])
      await admin.query(`drop trigger pause_here on ${table}`)
    },
  }
}

/** Resolves once a backend other than `pid` waits for a lock `pid` holds. */
async function blockedBy(admin: pg.Client, pid: number): Promise<void> {
  for (;;) {
    const { rows } = await admin.query<{ n: string }>(
      'select count(*) as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
      [pid],
    )
    if (Number(rows[0]!.n) > 0) return
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('PostgresStore: revoking a user while a code exchange is in flight', () => {
  it('the session the exchange creates is revoked too, not left active', async () => {
    const schema = await createTestSchema()
    const store = schema.store()
    const exchanging = schema.store()
    const admin = await schema.admin()
    try {
      await store.migrate()
      const user = userRecord()
      await store.createUser(user)
      const code = codeRecord({ userId: user.id })
      await store.createCode(code)
      const s = sessionRecord({ userId: user.id, browserSessionId: null })

      // The exchange, by the store's own redeemCode (another instance), paused after it created
      // the session, not yet committed.
      const pause = await pauseAfter(admin, 'insert', 'sessions')
      const redeeming = exchanging.redeemCode(code.codeHash, T0, s)
      const exchangePid = await pause.paused()
      const revoking = store.revokeUserSessions(user.id, {
        reason: 'admin',
        now: T0 + 10,
        event: (e) => eventRecord({ type: 'session_revoked', sessionId: e.id, userId: e.userId }),
      })
      // The revocation waits for the exchange's lock on the code; then the exchange commits.
      await blockedBy(admin, exchangePid)
      await pause.release()
      expect((await redeeming).ok).toBe(true)
      const r = await revoking
      expect(r.endedSessionIds).toEqual([s.id])
      expect(await store.getSession(s.id)).toMatchObject({ state: 'revoked', reason: 'admin' })
    } finally {
      await admin.end()
      await exchanging.close()
      await store.close()
      await schema.drop()
    }
  })
})

/**
 * An API delete and a client write that names the API, at the same time on two store instances:
 * one of them must refuse, whichever takes the API row first, so no client is left naming a
 * deleted API. The first one is paused inside its own transaction (pauseAfter), the second is
 * seen waiting for it in PostgreSQL before the first may go on.
 */
describe('PostgresStore: API delete against a client write in flight', () => {
  const API = 'https://orders.example.test'
  const OTHER = 'https://other.example.test'

  async function setup() {
    const schema = await createTestSchema()
    const store = schema.store()
    const instance2 = schema.store()
    await store.migrate()
    for (const audience of [API, OTHER]) await store.upsertApi(apiRecord({ audience }))
    const client = clientRecord({ id: 'c-1', audiences: [OTHER] })
    expect((await store.writeClient({ create: client })).ok).toBe(true)
    const admin = await schema.admin()
    return {
      store,
      instance2,
      client,
      admin,
      async cleanup() {
        await admin.end()
        await instance2.close()
        await store.close()
        await schema.drop()
      },
    }
  }

  it('a client write that share-locked the API first: the delete waits, then sees the client and refuses', async () => {
    const t = await setup()
    try {
      // writeClient writes the client, share-locks the API rows it names and records its event:
      // paused after the event, all its locks held.
      const pause = await pauseAfter(t.admin, 'insert', 'security_events')
      const updated = { ...t.client, audiences: [OTHER, API], updatedAt: FAR + 9 }
      const writing = t.instance2.writeClient(
        { replace: updated },
        { events: [eventRecord({ type: 'client_updated' })] },
      )
      const writerPid = await pause.paused()
      const deleting = t.store.writeApi({ delete: API }, [eventRecord({ type: 'api_deleted' })])
      await blockedBy(t.admin, writerPid)
      await pause.release()
      expect((await writing).ok).toBe(true)
      expect(await deleting).toStrictEqual({ ok: false, reason: 'in_use', clientIds: ['c-1'] })
      expect((await t.store.getApi(API))?.audience).toBe(API)
      expect(await t.store.listEvents({ type: 'api_deleted' })).toStrictEqual([])
    } finally {
      await t.cleanup()
    }
  })

  it('configuration sync: an API delete meanwhile waits for the configured clients and refuses', async () => {
    const t = await setup()
    try {
      // Hold the configured client's row, so the sync stops after writing the APIs.
      await t.admin.query('begin')
      await t.admin.query('select id from clients where id = $1 for update', [t.client.id])
      const { rows } = await t.admin.query<{ pid: number }>('select pg_backend_pid() as pid')
      const holder = rows[0]!.pid
      const configured = { ...t.client, audiences: [OTHER, API], updatedAt: FAR + 9 }
      const syncing = t.instance2.syncConfiguration([apiRecord({ audience: API })], [configured])
      const watch = await adminClient()
      try {
        // The sync waits on the client row, holding the API rows it wrote.
        await blockedBy(watch, holder)
        const { rows: waiting } = await watch.query<{ pid: number }>(
          'select pid from pg_stat_activity where $1 = any(pg_blocking_pids(pid))',
          [holder],
        )
        const syncPid = waiting[0]!.pid
        // Another instance deletes the API, which it takes for an admin-managed one: it waits for
        // the sync.
        const deleting = t.store.writeApi({ delete: API })
        await blockedBy(watch, syncPid)
        await t.admin.query('commit')
        await syncing
        expect(await deleting).toStrictEqual({ ok: false, reason: 'in_use', clientIds: ['c-1'] })
      } finally {
        await watch.end()
      }
      expect((await t.store.getApi(API))?.audience).toBe(API)
      expect((await t.store.getClient(t.client.id))?.audiences).toStrictEqual([OTHER, API])
    } finally {
      await t.cleanup()
    }
  })

  it('an API delete first: the client write waits on the row, finds it gone and refuses', async () => {
    const t = await setup()
    try {
      // writeApi deletes the API row, then records its event: paused after the delete.
      const pause = await pauseAfter(t.admin, 'delete', 'apis')
      const deleting = t.instance2.writeApi({ delete: API })
      const deleterPid = await pause.paused()
      const writing = t.store.writeClient({
        replace: { ...t.client, audiences: [OTHER, API], updatedAt: FAR + 9 },
      })
      await blockedBy(t.admin, deleterPid)
      await pause.release()
      expect((await deleting).ok).toBe(true)
      expect(await writing).toStrictEqual({ ok: false, reason: 'unknown_api', audiences: [API] })
      expect(await t.store.getClient(t.client.id)).toStrictEqual(t.client)
      expect(await t.store.getApi(API)).toBeUndefined()
    } finally {
      await t.cleanup()
    }
  })
})
