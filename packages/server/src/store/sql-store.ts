import {
  Migrator,
  sql,
  type Kysely,
  type MigrationProvider,
  type Migration,
  type Selectable,
} from 'kysely'
import { migrations } from './migrations/index.js'
import { PreparedQuery } from './prepared-query.js'
import type { CodeRedemption, RotateResult, Store } from './store.js'
import type {
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  EventFilter,
  SecurityEventRecord,
  SecurityEventType,
  SessionEndReason,
  SessionFilter,
  SessionRecord,
  SessionState,
  SigningAlg,
  SigningKeyRecord,
  UserRecord,
} from './types.js'

type Ms = number | string | bigint

interface JsonRow {
  data: string
  created_at: Ms
  updated_at: Ms
}
interface ClientsTable extends JsonRow {
  id: string
}
interface ApisTable extends JsonRow {
  audience: string
}
export interface UsersTable {
  id: string
  username: string
  username_key: string
  password_hash: string
  email: string | null
  name: string | null
  disabled: number
  metadata: string
  password_changed_at: Ms
  created_at: Ms
  updated_at: Ms
}
interface BrowserSessionsTable {
  id: string
  user_id: string
  auth_time: Ms
  amr: string
  created_at: Ms
  last_active_at: Ms
  expires_at: Ms
  ended_at: Ms | null
}
interface CodesTable {
  code_hash: string
  client_id: string
  user_id: string
  data: string
  created_at: Ms
  expires_at: Ms
  consumed_at: Ms | null
  session_id: string | null
}
export interface SessionsTable {
  id: string
  user_id: string
  client_id: string
  browser_session_id: string | null
  state: string
  reason: string | null
  ended_at: Ms | null
  scope: string
  resources: string
  auth_time: Ms
  amr: string
  created_at: Ms
  last_active_at: Ms
  expires_at: Ms
  idle_seconds: number
  generation: number
  rotated_at: Ms
  grace_uses: number
  grace_seconds: number
  grace_max_uses: number
  salt: string
  user_agent: string | null
  ip: string | null
  dpop_jkt: string | null
}
interface EventsTable {
  id: string
  type: string
  at: Ms
  user_id: string | null
  client_id: string | null
  session_id: string | null
  ip: string | null
  user_agent: string | null
  data: string
}
interface SigningKeysTable {
  kid: string
  alg: string
  public_jwk: string
  private_jwk_enc: string
  created_at: Ms
  activates_at: Ms
  retired_at: Ms | null
  expires_at: Ms | null
}
interface ThrottleTable {
  key: string
  window_start: Ms
  count: number
}
interface DpopProofsTable {
  key: string
  expires_at: Ms
}

export interface Database {
  clients: ClientsTable
  apis: ApisTable
  users: UsersTable
  browser_sessions: BrowserSessionsTable
  authorization_codes: CodesTable
  sessions: SessionsTable
  security_events: EventsTable
  signing_keys: SigningKeysTable
  throttle: ThrottleTable
  dpop_proofs: DpopProofsTable
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))
const numOrNull = (v: Ms | null): number | null => (v === null ? null : num(v))
const parse = <T>(s: string): T => JSON.parse(s) as T

class StaticProvider implements MigrationProvider {
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrations)
  }
}

const ACTIVE: SessionState[] = ['active', 'pending']

/**
 * The store logic shared by every SQL database; subclasses bring the Kysely dialect.
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres'
  protected readonly db: Kysely<Database>

  protected constructor(db: Kysely<Database>) {
    this.db = db
  }

  /**
   * Runs a hot-path write. The default runs it on its own; a store whose commits are expensive
   * and serialised (SQLite with fsync) overrides this to group concurrent writes into one commit.
   */
  protected hotWrite<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return run(this.db)
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: new StaticProvider(),
      migrationTableName: 'tessera_migrations',
      migrationLockTableName: 'tessera_migrations_lock',
    })
    const { error } = await migrator.migrateToLatest()
    if (error)
      throw error instanceof Error ? error : new Error('migration failed', { cause: error })
  }

  async close(): Promise<void> {
    await this.db.destroy()
  }

  abstract ping(): Promise<void>

  // clients ---------------------------------------------------------------------------------------

  /**
   * Clients and APIs are read on every token request and change rarely: found records are kept for
   * up to 5 s of wall-clock time (a change made through another instance shows within that), and
   * this store's own writes drop them at once. Misses are not kept, so unknown ids cannot fill it.
   */
  readonly #clients = new ReadCache<ClientRecord>()
  readonly #apis = new ReadCache<ApiRecord>()

  async getClient(id: string): Promise<ClientRecord | undefined> {
    const cached = this.#clients.get(id)
    if (cached) return cached
    const found = await this.#readClient(id)
    if (found) this.#clients.set(id, found)
    return found
  }

  async #readClient(id: string): Promise<ClientRecord | undefined> {
    const row = await this.db
      .selectFrom('clients')
      .select('data')
      .where('id', '=', id)
      .executeTakeFirst()
    return row ? parse<ClientRecord>(row.data) : undefined
  }

  async listClients(): Promise<ClientRecord[]> {
    const rows = await this.db.selectFrom('clients').select('data').orderBy('id').execute()
    return rows.map((r) => parse<ClientRecord>(r.data))
  }

  async upsertClient(c: ClientRecord): Promise<void> {
    this.#clients.delete(c.id)
    const row = {
      id: c.id,
      data: JSON.stringify(c),
      created_at: c.createdAt,
      updated_at: c.updatedAt,
    }
    await this.db
      .insertInto('clients')
      .values(row)
      .onConflict((oc) =>
        oc.column('id').doUpdateSet({ data: row.data, updated_at: row.updated_at }),
      )
      .execute()
  }

  async deleteClient(id: string): Promise<boolean> {
    this.#clients.delete(id)
    const r = await this.db.deleteFrom('clients').where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  // apis ------------------------------------------------------------------------------------------

  async getApi(audience: string): Promise<ApiRecord | undefined> {
    const cached = this.#apis.get(audience)
    if (cached) return cached
    const found = await this.#readApi(audience)
    if (found) this.#apis.set(audience, found)
    return found
  }

  async #readApi(audience: string): Promise<ApiRecord | undefined> {
    const row = await this.db
      .selectFrom('apis')
      .select('data')
      .where('audience', '=', audience)
      .executeTakeFirst()
    return row ? parse<ApiRecord>(row.data) : undefined
  }

  async listApis(): Promise<ApiRecord[]> {
    const rows = await this.db.selectFrom('apis').select('data').orderBy('audience').execute()
    return rows.map((r) => parse<ApiRecord>(r.data))
  }

  async upsertApi(a: ApiRecord): Promise<void> {
    this.#apis.delete(a.audience)
    const row = {
      audience: a.audience,
      data: JSON.stringify(a),
      created_at: a.createdAt,
      updated_at: a.updatedAt,
    }
    await this.db
      .insertInto('apis')
      .values(row)
      .onConflict((oc) =>
        oc.column('audience').doUpdateSet({ data: row.data, updated_at: row.updated_at }),
      )
      .execute()
  }

  async deleteApi(audience: string): Promise<boolean> {
    this.#apis.delete(audience)
    const r = await this.db.deleteFrom('apis').where('audience', '=', audience).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  // users -----------------------------------------------------------------------------------------

  readonly #userById = new PreparedQuery((id: string) =>
    this.db.selectFrom('users').selectAll().where('id', '=', id),
  )

  readonly #users = new ReadCache<UserRecord>(5000, 10_000)

  async getUser(id: string, opts?: { maxStaleMs?: number }): Promise<UserRecord | undefined> {
    const maxStaleMs = opts?.maxStaleMs ?? 0
    if (maxStaleMs > 0) {
      const cached = this.#users.get(id, maxStaleMs)
      if (cached) return cached
    }
    const found = await this.readUser(id)
    if (found) this.#users.set(id, found)
    else this.#users.delete(id)
    return found
  }

  /** A fresh read of one user; a store may override it with a faster path. */
  protected async readUser(id: string): Promise<UserRecord | undefined> {
    const [row] = await this.#userById.execute(this.db, id)
    return row ? toUser(row) : undefined
  }

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username_key', '=', username.toLowerCase())
      .executeTakeFirst()
    return row ? toUser(row) : undefined
  }

  async createUser(u: UserRecord): Promise<void> {
    await this.db.insertInto('users').values(fromUser(u)).execute()
  }

  async updateUser(u: UserRecord): Promise<void> {
    this.#users.delete(u.id)
    const { id, ...rest } = fromUser(u)
    await this.db.updateTable('users').set(rest).where('id', '=', id).execute()
  }

  async deleteUser(id: string): Promise<boolean> {
    this.#users.delete(id)
    const r = await this.db.deleteFrom('users').where('id', '=', id).executeTakeFirst()
    return Number(r.numDeletedRows) > 0
  }

  async listUsers(limit = 100): Promise<UserRecord[]> {
    const rows = await this.db
      .selectFrom('users')
      .selectAll()
      .orderBy('username_key')
      .limit(limit)
      .execute()
    return rows.map(toUser)
  }

  // browser sessions ------------------------------------------------------------------------------

  async createBrowserSession(s: BrowserSessionRecord): Promise<void> {
    await this.db
      .insertInto('browser_sessions')
      .values({
        id: s.id,
        user_id: s.userId,
        auth_time: s.authTime,
        amr: JSON.stringify(s.amr),
        created_at: s.createdAt,
        last_active_at: s.lastActiveAt,
        expires_at: s.expiresAt,
        ended_at: s.endedAt,
      })
      .execute()
  }

  async getBrowserSession(id: string): Promise<BrowserSessionRecord | undefined> {
    const r = await this.db
      .selectFrom('browser_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!r) return undefined
    return {
      id: r.id,
      userId: r.user_id,
      authTime: num(r.auth_time),
      amr: parse<string[]>(r.amr),
      createdAt: num(r.created_at),
      lastActiveAt: num(r.last_active_at),
      expiresAt: num(r.expires_at),
      endedAt: numOrNull(r.ended_at),
    }
  }

  async touchBrowserSession(id: string, now: number): Promise<void> {
    await this.db
      .updateTable('browser_sessions')
      .set({ last_active_at: now })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .execute()
  }

  async endBrowserSession(id: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('browser_sessions')
      .set({ ended_at: now })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .executeTakeFirst()
    return Number(r.numUpdatedRows) > 0
  }

  // authorization codes ---------------------------------------------------------------------------

  async createCode(c: AuthorizationCodeRecord): Promise<void> {
    await this.db
      .insertInto('authorization_codes')
      .values({
        code_hash: c.codeHash,
        client_id: c.clientId,
        user_id: c.userId,
        data: JSON.stringify(c),
        created_at: c.createdAt,
        expires_at: c.expiresAt,
        consumed_at: c.consumedAt,
        session_id: c.sessionId,
      })
      .execute()
  }

  async getCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    const r = await this.db
      .selectFrom('authorization_codes')
      .select(['data', 'consumed_at', 'session_id'])
      .where('code_hash', '=', codeHash)
      .executeTakeFirst()
    if (!r) return undefined
    const rec = parse<AuthorizationCodeRecord>(r.data)
    return { ...rec, consumedAt: numOrNull(r.consumed_at), sessionId: r.session_id }
  }

  async redeemCode(codeHash: string, now: number, session: SessionRecord): Promise<CodeRedemption> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('authorization_codes')
        .set({ consumed_at: now, session_id: session.id })
        .where('code_hash', '=', codeHash)
        .where('consumed_at', 'is', null)
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) === 1) {
        await trx.insertInto('sessions').values(fromSession(session)).execute()
        return { ok: true } as const
      }
      const existing = await trx
        .selectFrom('authorization_codes')
        .select(['session_id'])
        .where('code_hash', '=', codeHash)
        .executeTakeFirst()
      if (!existing) return { ok: false, reason: 'unknown' } as const
      return { ok: false, reason: 'consumed', sessionId: existing.session_id } as const
    })
  }

  async deleteExpiredCodes(now: number): Promise<number> {
    // Consumed codes are kept until expiry so a replay can still be recognised and punished.
    const r = await this.db
      .deleteFrom('authorization_codes')
      .where('expires_at', '<', now - 24 * 3600 * 1000)
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  // sessions --------------------------------------------------------------------------------------

  readonly #sessionById = new PreparedQuery((id: string) =>
    this.db.selectFrom('sessions').selectAll().where('id', '=', id),
  )

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const [r] = await this.#sessionById.execute(this.db, id)
    return r ? toSession(r) : undefined
  }

  async createSession(s: SessionRecord): Promise<void> {
    await this.db.insertInto('sessions').values(fromSession(s)).execute()
  }

  readonly #rotate = new PreparedQuery((id: string, expectedGeneration: number, now: number) =>
    this.db
      .updateTable('sessions')
      .set((eb) => ({
        generation: eb('generation', '+', 1),
        rotated_at: now,
        last_active_at: now,
        grace_uses: 0,
      }))
      .where('id', '=', id)
      .where('generation', '=', expectedGeneration)
      .where('state', '=', 'active')
      .returningAll(),
  )

  async rotateRefresh(id: string, expectedGeneration: number, now: number): Promise<RotateResult> {
    const [r] = await this.hotWrite((db) => this.#rotate.execute(db, id, expectedGeneration, now))
    return r ? { ok: true, session: toSession(r) } : { ok: false }
  }

  async useGrace(id: string, generation: number, maxUses: number, now: number): Promise<boolean> {
    const r = await this.hotWrite((db) =>
      db
        .updateTable('sessions')
        .set((eb) => ({ grace_uses: eb('grace_uses', '+', 1), last_active_at: now }))
        .where('id', '=', id)
        .where('generation', '=', generation)
        .where('state', '=', 'active')
        .where('grace_uses', '<', maxUses)
        .executeTakeFirst(),
    )
    return Number(r.numUpdatedRows) === 1
  }

  async endSession(
    id: string,
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
    event?: SecurityEventRecord,
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('sessions')
        .set({ state, reason, ended_at: now })
        .where('id', '=', id)
        .where('state', 'in', ACTIVE)
        .executeTakeFirst()
      const ended = Number(r.numUpdatedRows) === 1
      if (event) await trx.insertInto('security_events').values(fromEvent(event)).execute()
      return ended
    })
  }

  async endSessions(
    filter: { userId?: string; browserSessionId?: string; exceptId?: string },
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
  ): Promise<string[]> {
    if (filter.userId === undefined && filter.browserSessionId === undefined) {
      throw new Error('endSessions needs userId or browserSessionId')
    }
    let q = this.db
      .updateTable('sessions')
      .set({ state, reason, ended_at: now })
      .where('state', 'in', ACTIVE)
    if (filter.userId !== undefined) q = q.where('user_id', '=', filter.userId)
    if (filter.browserSessionId !== undefined) {
      q = q.where('browser_session_id', '=', filter.browserSessionId)
    }
    if (filter.exceptId !== undefined) q = q.where('id', '!=', filter.exceptId)
    const rows = await q.returning('id').execute()
    return rows.map((r) => r.id)
  }

  async listSessions(f: SessionFilter): Promise<SessionRecord[]> {
    let q = this.db.selectFrom('sessions').selectAll()
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId)
    if (f.clientId !== undefined) q = q.where('client_id', '=', f.clientId)
    if (f.state !== undefined) q = q.where('state', '=', f.state)
    if (f.browserSessionId !== undefined) q = q.where('browser_session_id', '=', f.browserSessionId)
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map(toSession)
  }

  async relinkSessions(fromBrowserSessionId: string, toBrowserSessionId: string): Promise<number> {
    const r = await this.db
      .updateTable('sessions')
      .set({ browser_session_id: toBrowserSessionId })
      .where('browser_session_id', '=', fromBrowserSessionId)
      .where('state', 'in', ACTIVE)
      .executeTakeFirst()
    return Number(r.numUpdatedRows)
  }

  async sweepSessions(now: number): Promise<{ expired: number; abandoned: number }> {
    return this.db.transaction().execute(async (trx) => {
      // Whichever limit ran out first decides the state, as judgeSession does.
      const idleEnd = sql<number>`last_active_at + idle_seconds * 1000`
      const expired = await trx
        .updateTable('sessions')
        .set((eb) => ({
          state: 'expired',
          reason: 'absolute_lifetime',
          ended_at: eb.ref('expires_at'),
        }))
        .where('state', 'in', ACTIVE)
        .where('expires_at', '<=', now)
        .where('expires_at', '<=', idleEnd)
        .executeTakeFirst()
      const abandoned = await trx
        .updateTable('sessions')
        .set({ state: 'abandoned', reason: 'idle_timeout', ended_at: idleEnd })
        .where('state', 'in', ACTIVE)
        .where(idleEnd, '<=', now)
        .executeTakeFirst()
      return {
        expired: Number(expired.numUpdatedRows),
        abandoned: Number(abandoned.numUpdatedRows),
      }
    })
  }

  // events ----------------------------------------------------------------------------------------

  async recordEvent(e: SecurityEventRecord): Promise<void> {
    await this.db.insertInto('security_events').values(fromEvent(e)).execute()
  }

  async listEvents(f: EventFilter): Promise<SecurityEventRecord[]> {
    let q = this.db.selectFrom('security_events').selectAll()
    if (f.type !== undefined) q = q.where('type', '=', f.type)
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId)
    if (f.sessionId !== undefined) q = q.where('session_id', '=', f.sessionId)
    if (f.clientId !== undefined) q = q.where('client_id', '=', f.clientId)
    if (f.before !== undefined) q = q.where('at', '<', f.before)
    if (f.after !== undefined) {
      const { at, id } = f.after
      q = q.where((eb) =>
        eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '>', id)])]),
      )
    }
    const rows = await q
      .orderBy('at', 'desc')
      .orderBy('id')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map((r) => ({
      id: r.id,
      type: r.type as SecurityEventType,
      at: num(r.at),
      userId: r.user_id,
      clientId: r.client_id,
      sessionId: r.session_id,
      ip: r.ip,
      userAgent: r.user_agent,
      data: parse<Record<string, unknown>>(r.data),
    }))
  }

  // signing keys ----------------------------------------------------------------------------------

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .orderBy('activates_at')
      .execute()
    return rows.map((r) => ({
      kid: r.kid,
      alg: r.alg as SigningAlg,
      publicJwk: r.public_jwk,
      privateJwkEnc: r.private_jwk_enc,
      createdAt: num(r.created_at),
      activatesAt: num(r.activates_at),
      retiredAt: numOrNull(r.retired_at),
      expiresAt: numOrNull(r.expires_at),
    }))
  }

  async insertSigningKey(k: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto('signing_keys')
      .values({
        kid: k.kid,
        alg: k.alg,
        public_jwk: k.publicJwk,
        private_jwk_enc: k.privateJwkEnc,
        created_at: k.createdAt,
        activates_at: k.activatesAt,
        retired_at: k.retiredAt,
        expires_at: k.expiresAt,
      })
      .execute()
  }

  async updateSigningKey(
    kid: string,
    retiredAt: number | null,
    expiresAt: number | null,
  ): Promise<void> {
    await this.db
      .updateTable('signing_keys')
      .set({ retired_at: retiredAt, expires_at: expiresAt })
      .where('kid', '=', kid)
      .execute()
  }

  // throttling ------------------------------------------------------------------------------------

  async throttleHit(key: string, now: number, windowSeconds: number): Promise<number> {
    const windowStart = now - (now % (windowSeconds * 1000))
    const row = await this.db
      .insertInto('throttle')
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) =>
        oc.column('key').doUpdateSet((eb) => ({
          count: eb
            .case()
            .when('throttle.window_start', '=', windowStart)
            .then(eb('throttle.count', '+', 1))
            .else(1)
            .end(),
          window_start: windowStart,
        })),
      )
      .returning('count')
      .executeTakeFirstOrThrow()
    return num(row.count)
  }

  async throttleCount(key: string, now: number, windowSeconds: number): Promise<number> {
    const windowStart = now - (now % (windowSeconds * 1000))
    const row = await this.db
      .selectFrom('throttle')
      .select(['count', 'window_start'])
      .where('key', '=', key)
      .executeTakeFirst()
    if (!row || num(row.window_start) !== windowStart) return 0
    return num(row.count)
  }

  async throttleReset(key: string): Promise<void> {
    await this.db.deleteFrom('throttle').where('key', '=', key).execute()
  }

  async pruneThrottle(now: number): Promise<number> {
    // A window is at most a day long (a config limit), so one that started a day ago has ended.
    const r = await this.db
      .deleteFrom('throttle')
      .where('window_start', '<', now - 86_400_000)
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  // DPoP proofs -----------------------------------------------------------------------------------

  async useDpopProof(key: string, now: number, expiresAt: number): Promise<boolean> {
    // Inserts, or takes over an expired record; a live record makes the upsert a no-op, which
    // returns no row. A hot-path write (every DPoP request), so grouped like rotations.
    const rows = await this.hotWrite((db) =>
      db
        .insertInto('dpop_proofs')
        .values({ key, expires_at: expiresAt })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({ expires_at: expiresAt })
            .where('dpop_proofs.expires_at', '<=', now),
        )
        .returning('key')
        .execute(),
    )
    return rows.length === 1
  }

  async pruneDpopProofs(now: number): Promise<number> {
    const r = await this.db
      .deleteFrom('dpop_proofs')
      .where('expires_at', '<=', now)
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }
}

export function toUser(r: Selectable<UsersTable>): UserRecord {
  return {
    id: r.id,
    username: r.username,
    passwordHash: r.password_hash,
    email: r.email,
    name: r.name,
    disabled: Boolean(r.disabled),
    metadata: parse<Record<string, unknown>>(r.metadata),
    passwordChangedAt: num(r.password_changed_at),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }
}

function fromUser(u: UserRecord): UsersTable {
  return {
    id: u.id,
    username: u.username,
    username_key: u.username.toLowerCase(),
    password_hash: u.passwordHash,
    email: u.email,
    name: u.name,
    disabled: u.disabled ? 1 : 0,
    metadata: JSON.stringify(u.metadata),
    password_changed_at: u.passwordChangedAt,
    created_at: u.createdAt,
    updated_at: u.updatedAt,
  }
}

export function toSession(r: Selectable<SessionsTable>): SessionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    browserSessionId: r.browser_session_id,
    state: r.state as SessionState,
    reason: r.reason as SessionEndReason | null,
    endedAt: numOrNull(r.ended_at),
    scope: r.scope,
    resources: parse<string[]>(r.resources),
    authTime: num(r.auth_time),
    amr: parse<string[]>(r.amr),
    createdAt: num(r.created_at),
    lastActiveAt: num(r.last_active_at),
    expiresAt: num(r.expires_at),
    idleSeconds: Number(r.idle_seconds),
    generation: Number(r.generation),
    rotatedAt: num(r.rotated_at),
    graceUses: Number(r.grace_uses),
    graceSeconds: Number(r.grace_seconds),
    graceMaxUses: Number(r.grace_max_uses),
    salt: r.salt,
    userAgent: r.user_agent,
    ip: r.ip,
    dpopJkt: r.dpop_jkt ?? null,
  }
}

function fromSession(s: SessionRecord): SessionsTable {
  return {
    id: s.id,
    user_id: s.userId,
    client_id: s.clientId,
    browser_session_id: s.browserSessionId,
    state: s.state,
    reason: s.reason,
    ended_at: s.endedAt,
    scope: s.scope,
    resources: JSON.stringify(s.resources),
    auth_time: s.authTime,
    amr: JSON.stringify(s.amr),
    created_at: s.createdAt,
    last_active_at: s.lastActiveAt,
    expires_at: s.expiresAt,
    idle_seconds: s.idleSeconds,
    generation: s.generation,
    rotated_at: s.rotatedAt,
    grace_uses: s.graceUses,
    grace_seconds: s.graceSeconds,
    grace_max_uses: s.graceMaxUses,
    salt: s.salt,
    user_agent: s.userAgent,
    ip: s.ip,
    dpop_jkt: s.dpopJkt ?? null,
  }
}

function fromEvent(e: SecurityEventRecord): EventsTable {
  return {
    id: e.id,
    type: e.type,
    at: e.at,
    user_id: e.userId,
    client_id: e.clientId,
    session_id: e.sessionId,
    ip: e.ip,
    user_agent: e.userAgent,
    data: JSON.stringify(e.data),
  }
}

/** A small wall-clock TTL map for rarely changing records; callers must not mutate what it returns. */
class ReadCache<T> {
  readonly #entries = new Map<string, { value: T; at: number }>()
  constructor(
    readonly ttlMs = 5000,
    readonly max = 1000,
  ) {}
  get(key: string, maxAgeMs = this.ttlMs): T | undefined {
    const e = this.#entries.get(key)
    if (!e) return undefined
    if (performance.now() - e.at >= Math.min(maxAgeMs, this.ttlMs)) {
      this.#entries.delete(key)
      return undefined
    }
    return e.value
  }
  set(key: string, value: T): void {
    if (this.#entries.size >= this.max)
      this.#entries.delete(this.#entries.keys().next().value as string)
    this.#entries.set(key, { value, at: performance.now() })
  }
  delete(key: string): void {
    this.#entries.delete(key)
  }
}
