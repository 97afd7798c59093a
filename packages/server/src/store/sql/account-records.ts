/**
 * Store code of self-service accounts: single-use email links, run-time settings, users by email.
 * Shared by the SQLite and PostgreSQL stores (SqlStore delegates here).
 */
import { sql, type Kysely, type Selectable } from 'kysely'
import type { Database } from '../sql-store.js'
import type { EmailTokenPurpose, EmailTokenRecord } from '../types.js'

type Ms = number | string | bigint

export interface EmailTokensTable {
  token_hash: string
  purpose: string
  user_id: string
  email: string
  created_at: Ms
  expires_at: Ms
  used_at: Ms | null
}

export interface SettingsTable {
  key: string
  value: string
  updated_at: Ms
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))

function toEmailToken(r: Selectable<EmailTokensTable>): EmailTokenRecord {
  return {
    tokenHash: r.token_hash,
    purpose: r.purpose as EmailTokenPurpose,
    userId: r.user_id,
    email: r.email,
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    usedAt: r.used_at === null ? null : num(r.used_at),
  }
}

export async function insertEmailToken(db: Kysely<Database>, t: EmailTokenRecord): Promise<void> {
  await db
    .insertInto('email_tokens')
    .values({
      token_hash: t.tokenHash,
      purpose: t.purpose,
      user_id: t.userId,
      email: t.email,
      created_at: t.createdAt,
      expires_at: t.expiresAt,
      used_at: t.usedAt,
    })
    .execute()
}

export async function selectEmailToken(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<EmailTokenRecord | undefined> {
  const row = await db
    .selectFrom('email_tokens')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst()
  return row ? toEmailToken(row) : undefined
}

/** Marks the token used iff it has this purpose, is unused and unexpired at `now`: one
 * conditional update, so of two concurrent uses exactly one gets the record. */
export async function takeEmailToken(
  db: Kysely<Database>,
  tokenHash: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<EmailTokenRecord | undefined> {
  const row = await db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', now)
    .returningAll()
    .executeTakeFirst()
  return row ? toEmailToken(row) : undefined
}

/** Marks every unused token of a user and purpose used (a reset voids the other reset links). */
export async function voidEmailTokens(
  db: Kysely<Database>,
  userId: string,
  purpose: EmailTokenPurpose,
  now: number,
): Promise<number> {
  const r = await db
    .updateTable('email_tokens')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  return Number(r.numUpdatedRows)
}

/** Deletes tokens a day past their expiry (kept that long so a replay is told "used"). */
export async function deleteExpiredEmailTokens(db: Kysely<Database>, now: number): Promise<number> {
  const r = await db
    .deleteFrom('email_tokens')
    .where('expires_at', '<=', now - 86_400_000)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}

export async function selectSetting(
  db: Kysely<Database>,
  key: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', key)
    .executeTakeFirst()
  return row?.value
}

/** Sets (or, with null, removes) a setting. */
export async function upsertSetting(
  db: Kysely<Database>,
  key: string,
  value: string | null,
  now: number,
): Promise<void> {
  if (value === null) {
    await db.deleteFrom('settings').where('key', '=', key).execute()
    return
  }
  await db
    .insertInto('settings')
    .values({ key, value, updated_at: now })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: now }))
    .execute()
}

/** Ids of users whose email is `email`, compared case-insensitively, at most 10, oldest first. */
export async function selectUserIdsByEmail(db: Kysely<Database>, email: string): Promise<string[]> {
  const rows = await db
    .selectFrom('users')
    .select('id')
    .where(sql<string>`lower(email)`, '=', email.toLowerCase())
    .orderBy('created_at')
    .limit(10)
    .execute()
  return rows.map((r) => r.id)
}
