import { sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { createTestSchema, PG_URL } from '../helpers/postgres.js'
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

describe('PostgresStore: revoking a user while a code exchange is in flight', () => {
  it('the session the exchange creates is revoked too, not left active', async () => {
    const schema = await createTestSchema()
    const store = schema.store()
    const other = await schema.admin()
    try {
      await store.migrate()
      const user = userRecord()
      await store.createUser(user)
      const code = codeRecord({ userId: user.id })
      await store.createCode(code)
      const s = sessionRecord({ userId: user.id, browserSessionId: null })

      // The exchange, as redeemCode does it, in its own transaction, not yet committed.
      await other.query('begin')
      await other.query(
        'update authorization_codes set consumed_at = $1, session_id = $2 where code_hash = $3 and consumed_at is null',
        [T0, s.id, code.codeHash],
      )
      await other.query(
        `insert into sessions (id, user_id, client_id, browser_session_id, state, reason, ended_at,
          scope, resources, auth_time, amr, created_at, last_active_at, expires_at, idle_seconds,
          generation, rotated_at, grace_uses, grace_seconds, grace_max_uses, salt, user_agent, ip,
          dpop_jkt)
         values ($1, $2, $3, null, 'active', null, null, $4, $5, $6, $7, $6, $6, $8, $9, 0, $6, 0,
          30, 10, $10, null, null, null)`,
        [
          s.id,
          user.id,
          s.clientId,
          s.scope,
          JSON.stringify(s.resources),
          T0,
          '["pwd"]',
          FAR,
          86_400,
          s.salt,
        ],
      )
      const revoking = store.revokeUserSessions(user.id, {
        reason: 'admin',
        now: T0 + 10,
        event: (e) => eventRecord({ type: 'session_revoked', sessionId: e.id, userId: e.userId }),
      })
      // The revocation waits for the exchange's lock on the code; let it get there, then commit.
      await new Promise((r) => setTimeout(r, 300))
      await other.query('commit')
      const r = await revoking
      expect(r.endedSessionIds).toEqual([s.id])
      expect(await store.getSession(s.id)).toMatchObject({ state: 'revoked', reason: 'admin' })
    } finally {
      await other.end()
      await store.close()
      await schema.drop()
    }
  })
})

/**
 * An API delete and a client write that names the API, at the same time on two connections: one
 * of them must refuse, whichever takes the API row first, so no client is left naming a deleted
 * API. The other connection holds its transaction open at the point our store's own would be.
 */
describe('PostgresStore: API delete against a client write in flight', () => {
  const API = 'https://orders.example.test'
  const OTHER = 'https://other.example.test'

  async function setup() {
    const schema = await createTestSchema()
    const store = schema.store()
    await store.migrate()
    for (const audience of [API, OTHER]) await store.upsertApi(apiRecord({ audience }))
    const client = clientRecord({ id: 'c-1', audiences: [OTHER] })
    expect((await store.writeClient({ create: client })).ok).toBe(true)
    const other = await schema.admin()
    return {
      store,
      client,
      other,
      async cleanup() {
        await other.end()
        await store.close()
        await schema.drop()
      },
    }
  }

  /** Resolves to 'pending' if `p` has not settled after `ms`. */
  const within = <T>(p: Promise<T>, ms: number) =>
    Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))])

  it('a client write that share-locked the API first: the delete waits, then sees the client and refuses', async () => {
    const t = await setup()
    try {
      await t.other.query('begin')
      // What writeClient does: share-lock the API rows it names, then write the client.
      await t.other.query('select audience from apis where audience = $1 for share', [API])
      const updated = { ...t.client, audiences: [OTHER, API] }
      await t.other.query('update clients set data = $1 where id = $2', [
        JSON.stringify(updated),
        t.client.id,
      ])
      const deleting = t.store.writeApi({ delete: API }, [eventRecord({ type: 'api_deleted' })])
      expect(await within(deleting, 300)).toBe('pending')
      await t.other.query('commit')
      expect(await deleting).toStrictEqual({ ok: false, reason: 'in_use', clientIds: ['c-1'] })
      expect((await t.store.getApi(API))?.audience).toBe(API)
      expect(await t.store.listEvents({})).toStrictEqual([])
    } finally {
      await t.cleanup()
    }
  })

  it('configuration sync: an API delete meanwhile waits for the configured clients and refuses', async () => {
    const t = await setup()
    try {
      // Hold the configured client's row, so the sync stops after writing the APIs.
      await t.other.query('begin')
      await t.other.query('select id from clients where id = $1 for update', [t.client.id])
      const configured = { ...t.client, audiences: [OTHER, API], updatedAt: FAR + 9 }
      const syncing = t.store.syncConfiguration([apiRecord({ audience: API })], [configured])
      expect(await within(syncing, 300)).toBe('pending')
      // Another instance deletes the API, which it takes for an admin-managed one.
      const deleting = t.store.writeApi({ delete: API })
      expect(await within(deleting, 300)).toBe('pending')
      await t.other.query('commit')
      await syncing
      expect(await deleting).toStrictEqual({ ok: false, reason: 'in_use', clientIds: ['c-1'] })
      expect((await t.store.getApi(API))?.audience).toBe(API)
      expect((await t.store.getClient(t.client.id))?.audiences).toStrictEqual([OTHER, API])
    } finally {
      await t.cleanup()
    }
  })

  it('an API delete first: the client write waits on the row, finds it gone and refuses', async () => {
    const t = await setup()
    try {
      await t.other.query('begin')
      await t.other.query('delete from apis where audience = $1', [API])
      const writing = t.store.writeClient({
        replace: { ...t.client, audiences: [OTHER, API], updatedAt: FAR + 9 },
      })
      expect(await within(writing, 300)).toBe('pending')
      await t.other.query('commit')
      expect(await writing).toStrictEqual({ ok: false, reason: 'unknown_api', audiences: [API] })
      expect(await t.store.getClient(t.client.id)).toStrictEqual(t.client)
    } finally {
      await t.cleanup()
    }
  })
})
