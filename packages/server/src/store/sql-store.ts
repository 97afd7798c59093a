import {
  Migrator,
  sql,
  type ExpressionBuilder,
  type Kysely,
  type MigrationProvider,
  type Migration,
  type Selectable,
} from 'kysely'
import { BoundedMap } from '../lib/bounded-map.js'
import { migrationsFor } from './migrations/index.js'
import { PreparedQuery } from './prepared-query.js'
import * as mfa from './sql/mfa-store.js'
import type { RecoveryCodesTable, TotpCredentialsTable } from './sql/mfa-store.js'
import { deleteBrowserSessions, deleteEndedSessions, deleteEvents } from './sql/retention.js'
import { reencryptSigningKey } from './sql/signing-keys.js'
import { recordedMessages, type WebhookTypes } from './sql/webhook-types.js'
import * as passkeySql from './sql/passkeys.js'
import type { PasskeyTables } from './sql/passkeys.js'
import * as upstreamSql from './sql/upstream-links.js'
import type { UpstreamTables } from './sql/upstream-links.js'
import * as deviceKeySql from './sql/device-keys.js'
import type { DeviceKeyTables } from './sql/device-keys.js'
import { sessionMessages } from '../webhooks/messages.js'
import {
  deleteExpiredEmailTokens,
  insertEmailToken,
  selectEmailToken,
  selectSetting,
  selectUserIdsByEmail,
  takeEmailToken,
  upsertSetting,
  voidEmailTokens,
  type EmailTokensTable,
  type SettingsTable,
} from './sql/account-records.js'
import type {
  AdminWriteResult,
  ApiChange,
  ClientChange,
  CodeRedemption,
  RevokeAll,
  RotateResult,
  Store,
  UserChange,
} from './store.js'
import type {
  AdminKeyRecord,
  AdminSessionRecord,
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  EmailTokenPurpose,
  EmailTokenRecord,
  PasskeyRecord,
  UpstreamLinkRecord,
  DeviceKeyRecord,
  EndedSession,
  EndedSessionEvent,
  EventFilter,
  SecurityEventRecord,
  SecurityEventType,
  SessionEndReason,
  SessionFilter,
  SessionRecord,
  SessionState,
  SessionTask,
  SessionTaskCompletion,
  SigningAlg,
  TotpRecord,
  SigningKeyRecord,
  UserFilter,
  UserRecord,
  WebhookAttemptRecord,
  WebhookDeliveryFilter,
  WebhookDeliveryRecord,
  WebhookEventType,
  WebhookMessageRecord,
  WebhookOutcome,
  WebhookSubscription,
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
  email_verified_at: Ms | null
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
  /** The task of a pending session (migration 0007_mfa). */
  task: string | null
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
interface AdminKeysTable {
  id: string
  name: string
  key_hash: string
  created_at: Ms
  revoked_at: Ms | null
}
interface AdminSessionsTable {
  id: string
  key_id: string
  created_at: Ms
  last_active_at: Ms
  expires_at: Ms
  ended_at: Ms | null
}
interface WebhookMessagesTable {
  id: string
  type: string
  payload: string
  created_at: Ms
}
interface WebhookDeliveriesTable {
  id: string
  message_id: string
  endpoint_id: string
  type: string
  payload: string
  created_at: Ms
  state: string
  attempts: number
  next_attempt_at: Ms
  lease_owner: string | null
  lease_until: Ms | null
  last_attempt_at: Ms | null
  last_status: number | null
  last_error: string | null
}
interface WebhookAttemptsTable {
  id: string
  delivery_id: string
  message_id: string
  endpoint_id: string
  attempt: number
  at: Ms
  status: number | null
  error: string | null
  duration_ms: number
}
interface DpopProofsTable {
  key: string
  expires_at: Ms
}

export interface Database extends PasskeyTables, UpstreamTables, DeviceKeyTables {
  clients: ClientsTable
  apis: ApisTable
  users: UsersTable
  browser_sessions: BrowserSessionsTable
  authorization_codes: CodesTable
  sessions: SessionsTable
  security_events: EventsTable
  signing_keys: SigningKeysTable
  throttle: ThrottleTable
  admin_keys: AdminKeysTable
  admin_sessions: AdminSessionsTable
  webhook_messages: WebhookMessagesTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
  dpop_proofs: DpopProofsTable
  totp_credentials: TotpCredentialsTable
  recovery_codes: RecoveryCodesTable
  email_tokens: EmailTokensTable
  settings: SettingsTable
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))
const numOrNull = (v: Ms | null): number | null => (v === null ? null : num(v))
const parse = <T>(s: string): T => JSON.parse(s) as T

class StaticProvider implements MigrationProvider {
  constructor(readonly kind: 'sqlite' | 'postgres') {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrationsFor(this.kind))
  }
}

const ACTIVE: SessionState[] = ['active', 'pending']

/** Rows per multi-row insert: far below SQLite's 32766 bound variables with 9 columns a row. */
const INSERT_CHUNK = 500

/** A unique or primary-key constraint refused the write (SQLite, PostgreSQL `23505`). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  )
}

/** Thrown inside a transaction to roll it back with a result for the caller. */
class Abort extends Error {
  constructor(readonly result: AdminWriteResult) {
    super('admin write aborted')
  }
}

/** The record write of an admin write: a unique violation means the record (or username) exists. */
async function unique<T>(write: Promise<T>): Promise<T> {
  try {
    return await write
  } catch (err) {
    if (isUniqueViolation(err)) throw new Abort({ ok: false, reason: 'exists' })
    throw err
  }
}

/**
 * The store logic shared by every SQL database; subclasses bring the Kysely dialect.
 */
export abstract class SqlStore implements Store {
  abstract readonly kind: 'sqlite' | 'postgres'
  protected readonly db: Kysely<Database>

  protected constructor(db: Kysely<Database>) {
    this.db = db
  }

  /** The webhook event types the outbox records (see `Store.recordWebhookTypes`). */
  protected webhookTypes: WebhookTypes = 'all'

  recordWebhookTypes(types: readonly WebhookEventType[] | 'all'): void {
    this.webhookTypes = types === 'all' ? 'all' : new Set(types)
  }

  /**
   * Runs a hot-path write. The default runs it on its own; a store whose commits are expensive
   * and serialised (SQLite with fsync) overrides this to group concurrent writes into one commit,
   * and a networked store (PostgreSQL) to retry serialization failures.
   */
  protected hotWrite<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return run(this.db)
  }

  /**
   * Runs a statement that may update many rows at once, and so can meet another such statement
   * in a deadlock on a database with row locks. The default runs it as it is.
   */
  protected write<T>(run: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    return run(this.db)
  }

  /** Runs `run` in one transaction: all of its writes commit, or none. */
  protected transaction<T>(run: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(run)
  }

  /** Options for Kysely's migrator (PostgreSQL pins the schema of its bookkeeping tables). */
  protected migratorOptions(): Promise<{ migrationTableSchema?: string }> {
    return Promise.resolve({})
  }

  async migrate(): Promise<void> {
    await this.migrateWith(this.db)
  }

  /** Brings the schema up to date through `db` (a store may migrate on other connections). */
  protected async migrateWith(db: Kysely<Database>): Promise<void> {
    const migrator = new Migrator({
      ...(await this.migratorOptions()),
      db,
      provider: new StaticProvider(this.kind),
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
    await upsertClientRow(this.db, c)
  }

  async syncConfiguration(
    apis: readonly ApiRecord[],
    clients: readonly ClientRecord[],
  ): Promise<void> {
    const forget = () => {
      for (const a of apis) this.#apis.delete(a.audience)
      for (const c of clients) this.#clients.delete(c.id)
    }
    forget()
    // One transaction, APIs first: on PostgreSQL each upserted API row stays locked until the
    // clients naming it are written, so an API delete by another instance (which deletes, then
    // reads the clients) either waits and sees them, or ran before and the API is written again.
    await this.transaction(async (trx) => {
      for (const a of apis) await upsertApiRow(trx, a)
      for (const c of clients) await upsertClientRow(trx, c)
    })
    forget()
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
    await upsertApiRow(this.db, a)
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

  async listUsers(f: UserFilter = {}): Promise<UserRecord[]> {
    let q = this.db.selectFrom('users').selectAll()
    if (f.search !== undefined && f.search !== '') {
      // lower() on both sides: PostgreSQL's LIKE is case-sensitive, SQLite's is not.
      const pattern = `%${f.search.toLowerCase().replace(/[\\%_]/g, (c) => '\\' + c)}%`
      const like = (col: 'username_key' | 'email' | 'name') =>
        sql<boolean>`lower(${sql.ref(col)}) like ${pattern} escape '\\'`
      q = q.where((eb) => eb.or([like('username_key'), like('email'), like('name')]))
    }
    if (f.afterUsername !== undefined) q = q.where('username_key', '>', f.afterUsername)
    const rows = await q
      .orderBy('username_key')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map(toUser)
  }

  async writeUser(
    change: UserChange,
    opts: { revoke?: RevokeAll; events?: SecurityEventRecord[] } = {},
  ): Promise<AdminWriteResult> {
    const id =
      'create' in change ? change.create.id : 'update' in change ? change.update.id : change.delete
    try {
      return await this.#writeUser(change, opts)
    } finally {
      this.#users.delete(id)
    }
  }

  async #writeUser(
    change: UserChange,
    opts: { revoke?: RevokeAll; events?: SecurityEventRecord[] },
  ): Promise<AdminWriteResult> {
    return this.#adminWrite(async (trx) => {
      let userId: string
      if ('create' in change) {
        userId = change.create.id
        await unique(trx.insertInto('users').values(fromUser(change.create)).execute())
      } else if ('update' in change) {
        userId = change.update.id
        const { id, ...rest } = fromUser(change.update)
        let q = trx.updateTable('users').set(rest).where('id', '=', id)
        if (change.expectedUpdatedAt !== undefined) {
          q = q.where('updated_at', '=', change.expectedUpdatedAt)
        }
        const r = await unique(q.executeTakeFirst())
        if (Number(r.numUpdatedRows) !== 1)
          throw new Abort(await missingOrChanged(trx, 'users', id))
      } else {
        userId = change.delete
        const r = await trx.deleteFrom('users').where('id', '=', userId).executeTakeFirst()
        if (Number(r.numDeletedRows) !== 1) throw new Abort({ ok: false, reason: 'not_found' })
        await passkeySql.deleteUserPasskeys(passkeySql.passkeyDb(trx), userId)
        await upstreamSql.deleteUserUpstreamLinks(upstreamSql.upstreamDb(trx), userId)
        await deviceKeySql.deleteUserDeviceKeys(deviceKeySql.deviceKeyDb(trx), userId)
      }
      const ended = opts.revoke
        ? await this.#revokeUser(trx, userId, opts.revoke)
        : { endedSessionIds: [], endedBrowserSessions: 0 }
      await insertEvents(trx, opts.events ?? [])
      return { ok: true, ...ended }
    })
  }

  async revokeUserSessions(
    userId: string,
    revoke: RevokeAll,
    events: SecurityEventRecord[] = [],
  ): Promise<{ endedSessionIds: string[]; endedBrowserSessions: number }> {
    return this.transaction(async (trx) => {
      const ended = await this.#revokeUser(trx, userId, revoke)
      await insertEvents(trx, events)
      return ended
    })
  }

  async #revokeUser(
    trx: Kysely<Database>,
    userId: string,
    revoke: RevokeAll,
  ): Promise<{ endedSessionIds: string[]; endedBrowserSessions: number }> {
    // Codes first: an unredeemed code is a session about to start; consumed without a session, it
    // is refused. On PostgreSQL this also waits for a code exchange in flight (it holds the code's
    // row lock) to commit, so the session it creates is visible to the sessions update below and
    // ends with the others instead of surviving the revocation.
    await voidCodes(trx, { userId }, revoke.now)
    const browser = await trx
      .updateTable('browser_sessions')
      .set({ ended_at: revoke.now })
      .where('user_id', '=', userId)
      .where('ended_at', 'is', null)
      .executeTakeFirst()
    const endedSessionIds = await endLive(trx, { userId }, revoked(revoke, this.webhookTypes))
    return { endedSessionIds, endedBrowserSessions: Number(browser.numUpdatedRows) }
  }

  /** Runs an admin write in a transaction; an Abort or a unique violation rolls it back. */
  async #adminWrite(
    run: (trx: Kysely<Database>) => Promise<AdminWriteResult>,
  ): Promise<AdminWriteResult> {
    try {
      return await this.transaction(run)
    } catch (err) {
      if (err instanceof Abort) return err.result
      throw err
    }
  }

  async writeClient(
    change: ClientChange,
    opts: { revoke?: RevokeAll; events?: SecurityEventRecord[] } = {},
  ): Promise<AdminWriteResult> {
    const id =
      'delete' in change ? change.delete : 'create' in change ? change.create.id : change.replace.id
    this.#clients.delete(id)
    const result = await this.#adminWrite(async (trx) => {
      let endedSessionIds: string[] = []
      if ('create' in change) {
        await unique(trx.insertInto('clients').values(clientRow(change.create)).execute())
      } else if ('replace' in change) {
        const row = clientRow(change.replace)
        let q = trx
          .updateTable('clients')
          .set({ data: row.data, updated_at: row.updated_at })
          .where('id', '=', id)
        if (change.expectedUpdatedAt !== undefined) {
          q = q.where('updated_at', '=', change.expectedUpdatedAt)
        }
        const r = await q.executeTakeFirst()
        if (Number(r.numUpdatedRows) !== 1) {
          throw new Abort(await missingOrChanged(trx, 'clients', id))
        }
      } else {
        const r = await trx.deleteFrom('clients').where('id', '=', id).executeTakeFirst()
        if (Number(r.numDeletedRows) !== 1) throw new Abort({ ok: false, reason: 'not_found' })
        if (opts.revoke) {
          // As for a user: codes first, so an exchange in flight cannot leave a live session.
          await voidCodes(trx, { clientId: id }, opts.revoke.now)
          endedSessionIds = await endLive(
            trx,
            { clientId: id },
            revoked(opts.revoke, this.webhookTypes),
          )
        }
      }
      if (!('delete' in change)) {
        // After the write, not before: on SQLite a read that opens the transaction pins a
        // snapshot, and a write by another process in between would then fail the insert
        // (SQLITE_BUSY_SNAPSHOT). It also keeps not_found and changed ahead of this.
        const record = 'create' in change ? change.create : change.replace
        // An API the client may call, or one it serves as a resource server (introspection).
        const named = [...new Set([...record.audiences, ...(record.resourceServerFor ?? [])])]
        const unknown = await this.#unknownApis(trx, named)
        if (unknown.length > 0) {
          throw new Abort({ ok: false, reason: 'unknown_api', audiences: unknown })
        }
      }
      await insertEvents(trx, opts.events ?? [])
      return { ok: true, endedSessionIds, endedBrowserSessions: 0 }
    })
    this.#clients.delete(id)
    return result
  }

  async writeApi(change: ApiChange, events: SecurityEventRecord[] = []): Promise<AdminWriteResult> {
    const audience =
      'delete' in change
        ? change.delete
        : 'create' in change
          ? change.create.audience
          : change.replace.audience
    this.#apis.delete(audience)
    const result = await this.#adminWrite(async (trx) => {
      if ('create' in change) {
        await unique(trx.insertInto('apis').values(apiRow(change.create)).execute())
      } else if ('replace' in change) {
        const row = apiRow(change.replace)
        const r = await trx
          .updateTable('apis')
          .set({ data: row.data, updated_at: row.updated_at })
          .where('audience', '=', audience)
          .executeTakeFirst()
        if (Number(r.numUpdatedRows) !== 1) throw new Abort({ ok: false, reason: 'not_found' })
      } else {
        // Delete first: on PostgreSQL this waits for a client write that share-locked the row
        // (#unknownApis), and the clients read after it then sees that write.
        const r = await trx.deleteFrom('apis').where('audience', '=', audience).executeTakeFirst()
        if (Number(r.numDeletedRows) !== 1) throw new Abort({ ok: false, reason: 'not_found' })
        const rows = await trx.selectFrom('clients').select(['id', 'data']).orderBy('id').execute()
        const clientIds = rows
          .filter((row) => {
            const c = parse<ClientRecord>(row.data)
            return c.audiences.includes(audience) || !!c.resourceServerFor?.includes(audience)
          })
          .map((row) => row.id)
        if (clientIds.length > 0) throw new Abort({ ok: false, reason: 'in_use', clientIds })
      }
      await insertEvents(trx, events)
      return { ok: true, endedSessionIds: [], endedBrowserSessions: 0 }
    })
    this.#apis.delete(audience)
    return result
  }

  /**
   * The audiences that name no API, read inside a client write's transaction after its write. On
   * PostgreSQL the API rows found are share-locked until it commits, so an API delete running now
   * waits for it and then sees the client that lists the API; one that committed first leaves no
   * row to find (the share lock waits for it, then finds nothing).
   */
  async #unknownApis(trx: Kysely<Database>, audiences: readonly string[]): Promise<string[]> {
    if (audiences.length === 0) return []
    let q = trx
      .selectFrom('apis')
      .select('audience')
      .where('audience', 'in', [...audiences])
    if (this.kind === 'postgres') q = q.forShare()
    const found = new Set((await q.execute()).map((r) => r.audience))
    return audiences.filter((a) => !found.has(a))
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

  async endBrowserSessions(
    filter: { userId: string; exceptId?: string | null },
    now: number,
  ): Promise<string[]> {
    const rows = await this.write((db) => {
      let q = db
        .updateTable('browser_sessions')
        .set({ ended_at: now })
        .where('user_id', '=', filter.userId)
        .where('ended_at', 'is', null)
      if (filter.exceptId !== undefined && filter.exceptId !== null) {
        q = q.where('id', '!=', filter.exceptId)
      }
      return q.returning('id').execute()
    })
    return rows.map((r) => r.id)
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
    return this.transaction(async (trx) => {
      const r = await trx
        .updateTable('authorization_codes')
        .set({ consumed_at: now, session_id: session.id })
        .where('code_hash', '=', codeHash)
        .where('consumed_at', 'is', null)
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) === 1) {
        if (session.browserSessionId !== null) {
          // The sign-in the code came from must still be on: a code exchanged after its browser
          // session signed out would start a session that logout never ended. On PostgreSQL the
          // row is share-locked, so a logout running now waits for this transaction and then ends
          // the session it created (its sessions update comes after its browser session update).
          let q = trx
            .selectFrom('browser_sessions')
            .select('ended_at')
            .where('id', '=', session.browserSessionId)
          if (this.kind === 'postgres') q = q.forShare()
          const browser = await q.executeTakeFirst()
          if (browser && browser.ended_at !== null) {
            // The code stays consumed (without a session): it can never be used.
            await trx
              .updateTable('authorization_codes')
              .set({ session_id: null })
              .where('code_hash', '=', codeHash)
              .execute()
            return { ok: false, reason: 'signed_out' } as const
          }
        }
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
    this.#rotateIn('active', id, expectedGeneration, now),
  )

  /** A pending session rotates too (its refresh tokens get issuer tokens only; see the grant),
   * through its own statement so the hot path's stays one prepared query on `active`. */
  readonly #rotatePending = new PreparedQuery(
    (id: string, expectedGeneration: number, now: number) =>
      this.#rotateIn('pending', id, expectedGeneration, now),
  )

  #rotateIn(state: 'active' | 'pending', id: string, expectedGeneration: number, now: number) {
    return (
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
        .where('state', '=', state)
        // Live at `now`, as judgeSession decides: before both the absolute and the idle end.
        .where('expires_at', '>', now)
        .where(sql<number>`last_active_at + idle_seconds * cast(1000 as bigint)`, '>', now)
        .returningAll()
    )
  }

  async rotateRefresh(
    id: string,
    expectedGeneration: number,
    now: number,
    state: 'active' | 'pending' = 'active',
  ): Promise<RotateResult> {
    const q = state === 'active' ? this.#rotate : this.#rotatePending
    const [r] = await this.hotWrite((db) => q.execute(db, id, expectedGeneration, now))
    return r ? { ok: true, session: toSession(r) } : { ok: false }
  }

  async useGrace(
    id: string,
    generation: number,
    maxUses: number,
    now: number,
    state: 'active' | 'pending' = 'active',
  ): Promise<boolean> {
    const r = await this.hotWrite((db) =>
      db
        .updateTable('sessions')
        .set((eb) => ({ grace_uses: eb('grace_uses', '+', 1), last_active_at: now }))
        .where('id', '=', id)
        .where('generation', '=', generation)
        .where('state', '=', state)
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
    endedAt = now,
    eventWhen: 'always' | 'ended' = 'always',
  ): Promise<boolean> {
    return this.transaction(async (trx) => {
      const row = await trx
        .updateTable('sessions')
        .set({ state, reason, ended_at: endedAt })
        .where('id', '=', id)
        .where('state', 'in', ACTIVE)
        .returning(['user_id', 'client_id'])
        .executeTakeFirst()
      if (event && (row || eventWhen === 'always')) {
        await trx.insertInto('security_events').values(fromEvent(event)).execute()
      }
      if (!row) return false
      const ended = {
        id,
        userId: row.user_id,
        clientId: row.client_id,
        state,
        reason,
        endedAt,
      }
      await writeMessages(trx, [ended], now, this.webhookTypes)
      return true
    })
  }

  async endSessions(
    filter: { sessionId?: string; userId?: string; browserSessionId?: string; exceptId?: string },
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
    event?: EndedSessionEvent,
  ): Promise<string[]> {
    if (
      filter.sessionId === undefined &&
      filter.userId === undefined &&
      filter.browserSessionId === undefined
    ) {
      throw new Error('endSessions needs sessionId, userId or browserSessionId')
    }
    return this.transaction((trx) =>
      endLive(trx, filter, { state, reason, now, event, types: this.webhookTypes }),
    )
  }

  async listSessions(f: SessionFilter): Promise<SessionRecord[]> {
    let q = this.db.selectFrom('sessions').selectAll()
    if (f.userId !== undefined) q = q.where('user_id', '=', f.userId)
    if (f.clientId !== undefined) q = q.where('client_id', '=', f.clientId)
    if (f.state !== undefined) q = q.where('state', '=', f.state)
    if (f.browserSessionId !== undefined) q = q.where('browser_session_id', '=', f.browserSessionId)
    if (f.after !== undefined) {
      const { createdAt, id } = f.after
      q = q.where((eb) =>
        eb.or([
          eb('created_at', '<', createdAt),
          eb.and([eb('created_at', '=', createdAt), eb('id', '>', id)]),
        ]),
      )
    }
    if (f.liveOrEndedSince !== undefined) {
      const since = f.liveOrEndedSince
      q = q.where((eb) => eb.or([eb('state', 'in', ACTIVE), eb('ended_at', '>=', since)]))
    }
    const rows = await q
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map(toSession)
  }

  async relinkSessions(fromBrowserSessionId: string, toBrowserSessionId: string): Promise<number> {
    const r = await this.write((db) =>
      db
        .updateTable('sessions')
        .set({ browser_session_id: toBrowserSessionId })
        .where('browser_session_id', '=', fromBrowserSessionId)
        .where('state', 'in', ACTIVE)
        .executeTakeFirst(),
    )
    return Number(r.numUpdatedRows)
  }

  async sweepSessions(
    now: number,
    event?: EndedSessionEvent,
  ): Promise<{ expired: number; abandoned: number }> {
    let expired = 0
    let abandoned = 0
    // Batches keep each transaction (and the time it holds SQLite's write lock) short after a long
    // downtime; every batch is atomic: sessions, their events and their messages together.
    for (;;) {
      // A transaction may be retried (PostgreSQL serialization failures): count only what the
      // committed attempt returns.
      const batch = await this.transaction(async (trx) => {
        // Whichever limit ran out first decides the state, as judgeSession does. The product is
        // widened before it is taken: idle_seconds * 1000 overflows a 32-bit integer past 24 days.
        const idleEnd = sql<number>`last_active_at + idle_seconds * cast(1000 as bigint)`
        // The limits are in the outer WHERE too, not only in the batch's subquery: PostgreSQL
        // re-checks the outer conditions on a row a concurrent refresh has just touched, so a
        // session refreshed meanwhile is not ended on its old last_active_at.
        const past =
          (limit: 'expires' | 'idle') => (eb: ExpressionBuilder<Database, 'sessions'>) =>
            limit === 'expires'
              ? eb.and([eb('expires_at', '<=', now), eb('expires_at', '<=', idleEnd)])
              : eb(idleEnd, '<=', now)
        const due = (limit: 'expires' | 'idle') =>
          trx
            .selectFrom('sessions')
            .select('id')
            .where('state', 'in', ACTIVE)
            .where(past(limit))
            .limit(SWEEP_BATCH)
        const exp = await trx
          .updateTable('sessions')
          .set((eb) => ({
            state: 'expired',
            reason: 'absolute_lifetime',
            ended_at: eb.ref('expires_at'),
          }))
          .where('id', 'in', due('expires'))
          .where('state', 'in', ACTIVE)
          .where(past('expires'))
          .returning(['id', 'user_id', 'client_id', 'ended_at'])
          .execute()
        const aba = await trx
          .updateTable('sessions')
          .set({ state: 'abandoned', reason: 'idle_timeout', ended_at: idleEnd })
          .where('id', 'in', due('idle'))
          .where('state', 'in', ACTIVE)
          .where(past('idle'))
          .returning(['id', 'user_id', 'client_id', 'ended_at'])
          .execute()
        const ended = [
          ...exp.map((r) => endedRow(r, 'expired', 'absolute_lifetime')),
          ...aba.map((r) => endedRow(r, 'abandoned', 'idle_timeout')),
        ]
        await writeEnded(trx, ended, now, event, this.webhookTypes)
        return { expired: exp.length, abandoned: aba.length }
      })
      expired += batch.expired
      abandoned += batch.abandoned
      if (Math.max(batch.expired, batch.abandoned) < SWEEP_BATCH) break
    }
    return { expired, abandoned }
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
    if (f.since !== undefined) q = q.where('at', '>=', f.since)
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

  // admin keys and console sessions ---------------------------------------------------------------

  async createAdminKey(k: AdminKeyRecord, event: SecurityEventRecord): Promise<void> {
    await this.transaction(async (trx) => {
      await trx
        .insertInto('admin_keys')
        .values({
          id: k.id,
          name: k.name,
          key_hash: k.keyHash,
          created_at: k.createdAt,
          revoked_at: k.revokedAt,
        })
        .execute()
      await insertEvents(trx, [event])
    })
  }

  async getAdminKey(id: string): Promise<AdminKeyRecord | undefined> {
    const r = await this.db
      .selectFrom('admin_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return r ? toAdminKey(r) : undefined
  }

  async getAdminKeyByHash(keyHash: string): Promise<AdminKeyRecord | undefined> {
    const r = await this.db
      .selectFrom('admin_keys')
      .selectAll()
      .where('key_hash', '=', keyHash)
      .executeTakeFirst()
    return r ? toAdminKey(r) : undefined
  }

  async listAdminKeys(): Promise<AdminKeyRecord[]> {
    const rows = await this.db
      .selectFrom('admin_keys')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute()
    return rows.map(toAdminKey)
  }

  async revokeAdminKey(id: string, now: number, event: SecurityEventRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      const r = await trx
        .updateTable('admin_keys')
        .set({ revoked_at: now })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) !== 1) return false
      await trx
        .updateTable('admin_sessions')
        .set({ ended_at: now })
        .where('key_id', '=', id)
        .where('ended_at', 'is', null)
        .execute()
      await insertEvents(trx, [event])
      return true
    })
  }

  async createAdminSession(s: AdminSessionRecord, event: SecurityEventRecord): Promise<void> {
    await this.transaction(async (trx) => {
      await trx
        .insertInto('admin_sessions')
        .values({
          id: s.id,
          key_id: s.keyId,
          created_at: s.createdAt,
          last_active_at: s.lastActiveAt,
          expires_at: s.expiresAt,
          ended_at: s.endedAt,
        })
        .execute()
      await insertEvents(trx, [event])
    })
  }

  async getAdminSession(id: string): Promise<AdminSessionRecord | undefined> {
    const r = await this.db
      .selectFrom('admin_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    if (!r) return undefined
    return {
      id: r.id,
      keyId: r.key_id,
      createdAt: num(r.created_at),
      lastActiveAt: num(r.last_active_at),
      expiresAt: num(r.expires_at),
      endedAt: numOrNull(r.ended_at),
    }
  }

  async touchAdminSession(id: string, now: number): Promise<void> {
    await this.db
      .updateTable('admin_sessions')
      .set({ last_active_at: now })
      .where('id', '=', id)
      .where('ended_at', 'is', null)
      .execute()
  }

  async endAdminSession(id: string, now: number, event?: SecurityEventRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      const r = await trx
        .updateTable('admin_sessions')
        .set({ ended_at: now })
        .where('id', '=', id)
        .where('ended_at', 'is', null)
        .executeTakeFirst()
      const ended = Number(r.numUpdatedRows) === 1
      if (ended && event) await insertEvents(trx, [event])
      return ended
    })
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
    await this.db.insertInto('signing_keys').values(fromSigningKey(k)).execute()
  }

  async insertFirstSigningKey(k: SigningKeyRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      await this.lockSigningKeys(trx)
      const any = await trx.selectFrom('signing_keys').select('kid').limit(1).executeTakeFirst()
      if (any) return false
      await trx.insertInto('signing_keys').values(fromSigningKey(k)).execute()
      return true
    })
  }

  /** Makes concurrent `insertFirstSigningKey` transactions take turns. SQLite's single writer
   * already does. */
  protected lockSigningKeys(_trx: Kysely<Database>): Promise<void> {
    return Promise.resolve()
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

  reencryptSigningKey(kid: string, expected: string, next: string): Promise<boolean> {
    return reencryptSigningKey(this.db, kid, expected, next)
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

  // webhooks --------------------------------------------------------------------------------------

  async listWebhookMessages(limit = 100): Promise<WebhookMessageRecord[]> {
    const rows = await this.db
      .selectFrom('webhook_messages')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute()
    return rows.map((r) => ({
      id: r.id,
      type: r.type as WebhookEventType,
      payload: r.payload,
      createdAt: num(r.created_at),
    }))
  }

  async fanOutWebhookMessages(
    subscriptions: readonly WebhookSubscription[],
    limit: number,
  ): Promise<number> {
    return this.transaction(async (trx) => {
      // The delete comes first and decides: of two dispatchers picking the same messages, the
      // second finds them gone (PostgreSQL re-checks the rows it waited for; SQLite serialises
      // writers), so each message becomes deliveries exactly once.
      const taken = await trx
        .deleteFrom('webhook_messages')
        .where(
          'id',
          'in',
          trx
            .selectFrom('webhook_messages')
            .select('id')
            .orderBy('created_at')
            .orderBy('id')
            .limit(limit),
        )
        .returningAll()
        .execute()
      const deliveries: WebhookDeliveriesTable[] = []
      for (const m of taken) {
        for (const sub of subscriptions) {
          if (!sub.events.includes(m.type as WebhookEventType)) continue
          deliveries.push({
            id: `${sub.endpointId}/${m.id}`,
            message_id: m.id,
            endpoint_id: sub.endpointId,
            type: m.type,
            payload: m.payload,
            created_at: m.created_at,
            state: 'pending',
            attempts: 0,
            next_attempt_at: m.created_at,
            lease_owner: null,
            lease_until: null,
            last_attempt_at: null,
            last_status: null,
            last_error: null,
          })
        }
      }
      for (let i = 0; i < deliveries.length; i += INSERT_CHUNK) {
        await trx
          .insertInto('webhook_deliveries')
          .values(deliveries.slice(i, i + INSERT_CHUNK))
          .onConflict((oc) => oc.column('id').doNothing())
          .execute()
      }
      return taken.length
    })
  }

  async claimWebhookDeliveries(o: {
    owner: string
    endpointIds: readonly string[]
    now: number
    leaseUntil: number
    limit: number
  }): Promise<WebhookDeliveryRecord[]> {
    if (o.endpointIds.length === 0 || o.limit < 1) return []
    const { now } = o
    const free = (eb: ExpressionBuilder<Database, 'webhook_deliveries'>) =>
      eb.or([eb('lease_until', 'is', null), eb('lease_until', '<=', now)])
    // The outer conditions are the claim: a row leased by someone else in the meantime no longer
    // matches them (PostgreSQL re-evaluates them on the row it waited for), so it is skipped.
    const rows = await this.write((db) =>
      db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: o.owner, lease_until: o.leaseUntil })
        .where(
          'id',
          'in',
          db
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('state', '=', 'pending')
            .where('next_attempt_at', '<=', now)
            .where('endpoint_id', 'in', [...o.endpointIds])
            .where(free)
            .orderBy('next_attempt_at')
            .orderBy('id')
            .limit(o.limit),
        )
        .where('state', '=', 'pending')
        .where('next_attempt_at', '<=', now)
        .where(free)
        .returningAll()
        .execute(),
    )
    return rows.map(toDelivery).sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
  }

  async releaseWebhookDelivery(
    id: string,
    owner: string,
    now: number,
    note: string,
  ): Promise<boolean> {
    const r = await this.write((db) =>
      db
        .updateTable('webhook_deliveries')
        .set({
          state: 'pending',
          next_attempt_at: now,
          lease_owner: null,
          lease_until: null,
          last_error: note,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .executeTakeFirst(),
    )
    return Number(r.numUpdatedRows) === 1
  }

  async settleWebhookDelivery(
    id: string,
    owner: string,
    attempt: WebhookAttemptRecord,
    outcome: WebhookOutcome,
  ): Promise<boolean> {
    return this.transaction(async (trx) => {
      let held: boolean
      if (outcome.result === 'delivered') {
        const r = await trx
          .deleteFrom('webhook_deliveries')
          .where('id', '=', id)
          .where('lease_owner', '=', owner)
          .executeTakeFirst()
        held = Number(r.numDeletedRows) === 1
      } else {
        const r = await trx
          .updateTable('webhook_deliveries')
          .set({
            state: outcome.result === 'failed' ? 'failed' : 'pending',
            attempts: attempt.attempt,
            next_attempt_at: outcome.result === 'retry' ? outcome.nextAttemptAt : attempt.at,
            lease_owner: null,
            lease_until: null,
            last_attempt_at: attempt.at,
            last_status: attempt.status,
            last_error: attempt.error,
          })
          .where('id', '=', id)
          .where('lease_owner', '=', owner)
          .executeTakeFirst()
        held = Number(r.numUpdatedRows) === 1
      }
      await trx
        .insertInto('webhook_attempts')
        .values({
          id: attempt.id,
          delivery_id: attempt.deliveryId,
          message_id: attempt.messageId,
          endpoint_id: attempt.endpointId,
          attempt: attempt.attempt,
          at: attempt.at,
          status: attempt.status,
          error: attempt.error,
          duration_ms: attempt.durationMs,
        })
        .execute()
      return held
    })
  }

  async listWebhookDeliveries(f: WebhookDeliveryFilter): Promise<WebhookDeliveryRecord[]> {
    let q = this.db.selectFrom('webhook_deliveries').selectAll()
    if (f.state !== undefined) q = q.where('state', '=', f.state)
    if (f.endpointId !== undefined) q = q.where('endpoint_id', '=', f.endpointId)
    if (f.messageId !== undefined) q = q.where('message_id', '=', f.messageId)
    const rows = await q
      .orderBy('created_at')
      .orderBy('id')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map(toDelivery)
  }

  async listWebhookAttempts(f: {
    deliveryId?: string
    limit?: number
  }): Promise<WebhookAttemptRecord[]> {
    let q = this.db.selectFrom('webhook_attempts').selectAll()
    if (f.deliveryId !== undefined) q = q.where('delivery_id', '=', f.deliveryId)
    const rows = await q
      .orderBy('at')
      .orderBy('attempt')
      .orderBy('id')
      .limit(f.limit ?? 100)
      .execute()
    return rows.map((r) => ({
      id: r.id,
      deliveryId: r.delivery_id,
      messageId: r.message_id,
      endpointId: r.endpoint_id,
      attempt: Number(r.attempt),
      at: num(r.at),
      status: r.status === null ? null : Number(r.status),
      error: r.error,
      durationMs: Number(r.duration_ms),
    }))
  }

  async pruneWebhooks(o: { messagesBefore: number; recordsBefore: number }): Promise<number> {
    return this.transaction(async (trx) => {
      const m = await trx
        .deleteFrom('webhook_messages')
        .where('created_at', '<', o.messagesBefore)
        .executeTakeFirst()
      // A pending delivery this old belongs to an endpoint no longer configured: a configured
      // one's deliveries fail at the retry horizon, which is shorter than the retention.
      const d = await trx
        .deleteFrom('webhook_deliveries')
        .where('created_at', '<', o.recordsBefore)
        .executeTakeFirst()
      const a = await trx
        .deleteFrom('webhook_attempts')
        .where('at', '<', o.recordsBefore)
        .executeTakeFirst()
      return Number(m.numDeletedRows) + Number(d.numDeletedRows) + Number(a.numDeletedRows)
    })
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

  // retention (store/sql/retention.ts) ---------------------------------------------------------

  deleteEndedSessions(endedBefore: number, limit: number): Promise<number> {
    return this.write((db) => deleteEndedSessions(db, endedBefore, limit))
  }

  deleteBrowserSessions(o: { before: number; idleMs: number; limit: number }): Promise<number> {
    return this.write((db) => deleteBrowserSessions(db, o))
  }

  deleteEvents(before: number, limit: number): Promise<number> {
    return this.write((db) => deleteEvents(db, before, limit))
  }

  // self-service accounts (src/store/sql/account-records.ts) --------------------------------------

  async createEmailToken(t: EmailTokenRecord): Promise<void> {
    await this.write((db) => insertEmailToken(db, t))
  }

  getEmailToken(tokenHash: string): Promise<EmailTokenRecord | undefined> {
    return selectEmailToken(this.db, tokenHash)
  }

  useEmailToken(
    tokenHash: string,
    purpose: EmailTokenPurpose,
    now: number,
  ): Promise<EmailTokenRecord | undefined> {
    return this.write((db) => takeEmailToken(db, tokenHash, purpose, now))
  }

  voidEmailTokens(userId: string, purpose: EmailTokenPurpose, now: number): Promise<number> {
    return this.write((db) => voidEmailTokens(db, userId, purpose, now))
  }

  pruneEmailTokens(now: number): Promise<number> {
    return this.write((db) => deleteExpiredEmailTokens(db, now))
  }

  async getUsersByEmail(email: string): Promise<UserRecord[]> {
    const ids = await selectUserIdsByEmail(this.db, email)
    const users = await Promise.all(ids.map((id) => this.readUser(id)))
    return users.filter((u): u is UserRecord => u !== undefined)
  }

  getSetting(key: string): Promise<string | undefined> {
    return selectSetting(this.db, key)
  }

  async putSetting(key: string, value: string | null, now: number): Promise<void> {
    await this.write((db) => upsertSetting(db, key, value, now))
  }

  async createPasskey(p: PasskeyRecord, event: SecurityEventRecord): Promise<boolean> {
    try {
      await this.transaction(async (trx) => {
        await passkeySql.insertPasskey(passkeySql.passkeyDb(trx), p)
        await trx.insertInto('security_events').values(fromEvent(event)).execute()
      })
      return true
    } catch (err) {
      if (isUniqueViolation(err)) return false
      throw err
    }
  }

  getPasskey(id: string): Promise<PasskeyRecord | undefined> {
    return passkeySql.selectPasskey(passkeySql.passkeyDb(this.db), id)
  }

  listPasskeys(userId: string): Promise<PasskeyRecord[]> {
    return passkeySql.selectPasskeys(passkeySql.passkeyDb(this.db), userId)
  }

  deletePasskey(userId: string, id: string, event: SecurityEventRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      if (!(await passkeySql.deletePasskeyRow(passkeySql.passkeyDb(trx), userId, id))) return false
      await trx.insertInto('security_events').values(fromEvent(event)).execute()
      return true
    })
  }

  usePasskey(
    id: string,
    expectedCounter: number,
    use: { counter: number; backupState: boolean; now: number },
  ): Promise<boolean> {
    return passkeySql.updatePasskeyUse(passkeySql.passkeyDb(this.db), id, expectedCounter, use)
  }

  useWebAuthnChallenge(key: string, now: number, expiresAt: number): Promise<boolean> {
    return passkeySql.insertUsedChallenge(passkeySql.passkeyDb(this.db), key, now, expiresAt)
  }

  pruneWebAuthnChallenges(now: number): Promise<number> {
    return passkeySql.pruneUsedChallenges(passkeySql.passkeyDb(this.db), now)
  }

  getUpstreamLink(providerId: string, subject: string): Promise<UpstreamLinkRecord | undefined> {
    return upstreamSql.selectUpstreamLink(upstreamSql.upstreamDb(this.db), providerId, subject)
  }

  listUpstreamLinks(userId: string): Promise<UpstreamLinkRecord[]> {
    return upstreamSql.selectUserUpstreamLinks(upstreamSql.upstreamDb(this.db), userId)
  }

  async linkUpstream(
    link: UpstreamLinkRecord,
    event: SecurityEventRecord,
    newUser?: UserRecord,
  ): Promise<boolean> {
    class Taken extends Error {}
    try {
      await this.transaction(async (trx) => {
        if (newUser) await trx.insertInto('users').values(fromUser(newUser)).execute()
        if (!(await upstreamSql.insertUpstreamLink(upstreamSql.upstreamDb(trx), link))) {
          throw new Taken()
        }
        await trx.insertInto('security_events').values(fromEvent(event)).execute()
      })
      return true
    } catch (err) {
      if (err instanceof Taken || isUniqueViolation(err)) return false
      throw err
    }
  }

  async createDeviceKey(k: DeviceKeyRecord, event: SecurityEventRecord): Promise<boolean> {
    try {
      await this.transaction(async (trx) => {
        await deviceKeySql.insertDeviceKey(deviceKeySql.deviceKeyDb(trx), k)
        await trx.insertInto('security_events').values(fromEvent(event)).execute()
      })
      return true
    } catch (err) {
      if (isUniqueViolation(err)) return false
      throw err
    }
  }

  getDeviceKey(id: string): Promise<DeviceKeyRecord | undefined> {
    return deviceKeySql.selectDeviceKey(deviceKeySql.deviceKeyDb(this.db), id)
  }

  listDeviceKeys(userId: string): Promise<DeviceKeyRecord[]> {
    return deviceKeySql.selectDeviceKeys(deviceKeySql.deviceKeyDb(this.db), userId)
  }

  deleteDeviceKey(userId: string, id: string, event: SecurityEventRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      const db = deviceKeySql.deviceKeyDb(trx)
      if (!(await deviceKeySql.deleteDeviceKeyRow(db, userId, id))) return false
      await trx.insertInto('security_events').values(fromEvent(event)).execute()
      return true
    })
  }

  raiseSession(
    o: { sessionId: string; amr: string[]; authTime: number; deviceKeyId: string },
    event: SecurityEventRecord,
  ): Promise<boolean> {
    return this.transaction(async (trx) => {
      const r = await trx
        .updateTable('sessions')
        .set({ amr: JSON.stringify(o.amr), auth_time: o.authTime })
        .where('id', '=', o.sessionId)
        .where('state', '=', 'active')
        .executeTakeFirst()
      if (Number(r.numUpdatedRows) !== 1) return false
      await deviceKeySql.touchDeviceKey(deviceKeySql.deviceKeyDb(trx), o.deviceKeyId, o.authTime)
      await trx.insertInto('security_events').values(fromEvent(event)).execute()
      return true
    })
  }

  async pruneDpopProofs(now: number): Promise<number> {
    const r = await this.db
      .deleteFrom('dpop_proofs')
      .where('expires_at', '<=', now)
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  }

  // second factors and session tasks (store/sql/mfa-store.ts) -------------------------------------

  getTotp(userId: string): Promise<TotpRecord | undefined> {
    return mfa.getTotp(this.db, userId)
  }

  beginTotp(t: TotpRecord): Promise<boolean> {
    return this.transaction((trx) => mfa.beginTotp(trx, t))
  }

  confirmTotp(o: {
    userId: string
    secretEnc: string
    step: number
    now: number
    recoveryCodeHashes: string[]
    event: SecurityEventRecord
  }): Promise<boolean> {
    return this.transaction(async (trx) => {
      if (!(await mfa.confirmTotp(trx, o))) return false
      await insertEvents(trx, [o.event])
      return true
    })
  }

  useTotpStep(userId: string, step: number): Promise<boolean> {
    return mfa.useTotpStep(this.db, userId, step)
  }

  useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean> {
    return mfa.useRecoveryCode(this.db, userId, codeHash, now)
  }

  countRecoveryCodes(userId: string): Promise<number> {
    return mfa.countRecoveryCodes(this.db, userId)
  }

  resetMfa(userId: string, event: SecurityEventRecord): Promise<boolean> {
    return this.transaction(async (trx) => {
      const had = await mfa.resetMfa(trx, userId)
      if (had) await insertEvents(trx, [event])
      return had
    })
  }

  completeSessionTask(o: SessionTaskCompletion, events: mfa.EventsFor): Promise<string[]> {
    return this.transaction(async (trx) => {
      const done = await mfa.completeSessionTask(trx, o)
      await insertEvents(trx, events(done))
      return done.map((d) => d.id)
    })
  }
}

/** Marks the unredeemed codes of a user or client consumed (without a session). */
async function voidCodes(
  trx: Kysely<Database>,
  where: { userId: string } | { clientId: string },
  now: number,
): Promise<void> {
  let q = trx
    .updateTable('authorization_codes')
    .set({ consumed_at: now })
    .where('consumed_at', 'is', null)
  q =
    'userId' in where
      ? q.where('user_id', '=', where.userId)
      : q.where('client_id', '=', where.clientId)
  await q.execute()
}

/** Why a conditional update of a record matched nothing: it is gone, or it changed meanwhile. */
async function missingOrChanged(
  trx: Kysely<Database>,
  table: 'users' | 'clients',
  id: string,
): Promise<AdminWriteResult> {
  const row = await trx.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst()
  return { ok: false, reason: row ? 'changed' : 'not_found' }
}

/** Ends the live (active or pending) sessions matching `where`, with one event (when a builder is
 * given) and the webhook messages each; returns their ids. */
async function endLive(
  trx: Kysely<Database>,
  where: {
    sessionId?: string
    userId?: string
    clientId?: string
    browserSessionId?: string
    exceptId?: string
  },
  end: {
    state: Exclude<SessionState, 'active' | 'pending'>
    reason: SessionEndReason
    now: number
    event: EndedSessionEvent | undefined
    types: WebhookTypes
  },
): Promise<string[]> {
  const { state, reason, now } = end
  let q = trx
    .updateTable('sessions')
    .set({ state, reason, ended_at: now })
    .where('state', 'in', ACTIVE)
  if (where.sessionId !== undefined) q = q.where('id', '=', where.sessionId)
  if (where.userId !== undefined) q = q.where('user_id', '=', where.userId)
  if (where.clientId !== undefined) q = q.where('client_id', '=', where.clientId)
  if (where.browserSessionId !== undefined) {
    q = q.where('browser_session_id', '=', where.browserSessionId)
  }
  if (where.exceptId !== undefined) q = q.where('id', '!=', where.exceptId)
  const rows = await q.returning(['id', 'user_id', 'client_id']).execute()
  const ended: EndedSession[] = rows.map((r) => ({
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    state,
    reason,
    endedAt: now,
  }))
  // The events and the sessions' webhook messages, in the transaction that ends them.
  await writeEnded(trx, ended, now, end.event, end.types)
  return ended.map((e) => e.id)
}

/** An admin revocation as the end endLive makes. */
function revoked(r: RevokeAll, types: WebhookTypes) {
  return { state: 'revoked' as const, reason: r.reason, now: r.now, event: r.event, types }
}

async function insertEvents(trx: Kysely<Database>, events: SecurityEventRecord[]): Promise<void> {
  for (let i = 0; i < events.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('security_events')
      .values(events.slice(i, i + INSERT_CHUNK).map(fromEvent))
      .execute()
  }
}

async function upsertClientRow(db: Kysely<Database>, c: ClientRecord): Promise<void> {
  const row = clientRow(c)
  await db
    .insertInto('clients')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet({ data: row.data, updated_at: row.updated_at }))
    .execute()
}

async function upsertApiRow(db: Kysely<Database>, a: ApiRecord): Promise<void> {
  const row = apiRow(a)
  await db
    .insertInto('apis')
    .values(row)
    .onConflict((oc) =>
      oc.column('audience').doUpdateSet({ data: row.data, updated_at: row.updated_at }),
    )
    .execute()
}

function clientRow(c: ClientRecord): ClientsTable {
  return { id: c.id, data: JSON.stringify(c), created_at: c.createdAt, updated_at: c.updatedAt }
}

function apiRow(a: ApiRecord): ApisTable {
  return {
    audience: a.audience,
    data: JSON.stringify(a),
    created_at: a.createdAt,
    updated_at: a.updatedAt,
  }
}

function toAdminKey(r: Selectable<AdminKeysTable>): AdminKeyRecord {
  return {
    id: r.id,
    name: r.name,
    keyHash: r.key_hash,
    createdAt: num(r.created_at),
    revokedAt: numOrNull(r.revoked_at),
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
    emailVerifiedAt: numOrNull(r.email_verified_at),
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
    email_verified_at: u.emailVerifiedAt,
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
    task: r.state === 'pending' ? ((r.task ?? null) as SessionTask | null) : null,
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
    task: s.task ?? null,
  }
}

function fromSigningKey(k: SigningKeyRecord): SigningKeysTable {
  return {
    kid: k.kid,
    alg: k.alg,
    public_jwk: k.publicJwk,
    private_jwk_enc: k.privateJwkEnc,
    created_at: k.createdAt,
    activates_at: k.activatesAt,
    retired_at: k.retiredAt,
    expires_at: k.expiresAt,
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

/** Sessions a sweep ends per transaction. */
const SWEEP_BATCH = 500

function endedRow(
  r: { id: string; user_id: string; client_id: string; ended_at: Ms | null },
  state: EndedSession['state'],
  reason: SessionEndReason,
): EndedSession {
  return {
    id: r.id,
    userId: r.user_id,
    clientId: r.client_id,
    state,
    reason,
    endedAt: r.ended_at === null ? 0 : num(r.ended_at),
  }
}

/** Writes the webhook messages of sessions just ended, of the types recorded, inside the caller's
 * transaction. */
async function writeMessages(
  trx: Kysely<Database>,
  ended: readonly EndedSession[],
  now: number,
  types: WebhookTypes,
): Promise<void> {
  if (types !== 'all' && types.size === 0) return
  const rows = ended.flatMap((e) =>
    recordedMessages(sessionMessages(e, now), types).map((m) => ({
      id: m.id,
      type: m.type,
      payload: m.payload,
      created_at: m.createdAt,
    })),
  )
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    await trx
      .insertInto('webhook_messages')
      .values(rows.slice(i, i + INSERT_CHUNK))
      .execute()
  }
}

/** Events (when a builder is given) and webhook messages of sessions just ended. */
async function writeEnded(
  trx: Kysely<Database>,
  ended: readonly EndedSession[],
  now: number,
  event: EndedSessionEvent | undefined,
  types: WebhookTypes,
): Promise<void> {
  if (ended.length === 0) return
  if (event) await insertEvents(trx, ended.map(event))
  await writeMessages(trx, ended, now, types)
}

function toDelivery(r: Selectable<WebhookDeliveriesTable>): WebhookDeliveryRecord {
  return {
    id: r.id,
    messageId: r.message_id,
    endpointId: r.endpoint_id,
    type: r.type as WebhookEventType,
    payload: r.payload,
    createdAt: num(r.created_at),
    state: r.state as WebhookDeliveryRecord['state'],
    attempts: Number(r.attempts),
    nextAttemptAt: num(r.next_attempt_at),
    leaseOwner: r.lease_owner,
    leaseUntil: numOrNull(r.lease_until),
    lastAttemptAt: numOrNull(r.last_attempt_at),
    lastStatus: r.last_status === null ? null : Number(r.last_status),
    lastError: r.last_error,
  }
}

/** A small wall-clock TTL map for rarely changing records; callers must not mutate what it returns. */
class ReadCache<T> {
  readonly #entries: BoundedMap<string, { value: T; at: number }>
  constructor(
    readonly ttlMs = 5000,
    max = 1000,
  ) {
    this.#entries = new BoundedMap(max)
  }
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
    this.#entries.set(key, { value, at: performance.now() })
  }
  delete(key: string): void {
    this.#entries.delete(key)
  }
}
