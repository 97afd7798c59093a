/**
 * SQL of the passkey records (WebAuthn credentials) and of the WebAuthn challenges already used,
 * shared by SQLite and PostgreSQL. Kept out of sql-store.ts, which delegates here.
 */
import type { Kysely } from 'kysely'
import type { PasskeyRecord } from '../types.js'

type Ms = number | string | bigint

export interface PasskeysTable {
  /** The credential id, base64url. */
  id: string
  user_id: string
  /** COSE public key, base64url. */
  public_key: string
  counter: Ms
  /** JSON array of transport hints. */
  transports: string
  backup_eligible: number
  backup_state: number
  name: string
  created_at: Ms
  last_used_at: Ms | null
}

export interface WebAuthnChallengesTable {
  /** sha256 of the challenge, base64url. */
  key: string
  expires_at: Ms
}

export interface PasskeyTables {
  passkeys: PasskeysTable
  webauthn_challenges: WebAuthnChallengesTable
}

export type PasskeyDb = Kysely<PasskeyTables>

/** A store's database (whose tables include these) as the passkey tables alone. Kysely's database
 * type is invariant, so the narrowing is a cast; the constraint keeps it honest. */
export function passkeyDb<D extends PasskeyTables>(db: Kysely<D>): PasskeyDb {
  return db as unknown as PasskeyDb
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))

function toRecord(r: PasskeysTable): PasskeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    publicKey: r.public_key,
    counter: num(r.counter),
    transports: JSON.parse(r.transports) as string[],
    backupEligible: r.backup_eligible === 1,
    backupState: r.backup_state === 1,
    name: r.name,
    createdAt: num(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : num(r.last_used_at),
  }
}

export async function insertPasskey(db: PasskeyDb, p: PasskeyRecord): Promise<void> {
  await db
    .insertInto('passkeys')
    .values({
      id: p.id,
      user_id: p.userId,
      public_key: p.publicKey,
      counter: p.counter,
      transports: JSON.stringify(p.transports),
      backup_eligible: p.backupEligible ? 1 : 0,
      backup_state: p.backupState ? 1 : 0,
      name: p.name,
      created_at: p.createdAt,
      last_used_at: p.lastUsedAt,
    })
    .execute()
}

export async function selectPasskey(db: PasskeyDb, id: string): Promise<PasskeyRecord | undefined> {
  const r = await db.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toRecord(r) : undefined
}

export async function selectPasskeys(db: PasskeyDb, userId: string): Promise<PasskeyRecord[]> {
  const rows = await db
    .selectFrom('passkeys')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  return rows.map(toRecord)
}

export async function deletePasskeyRow(
  db: PasskeyDb,
  userId: string,
  id: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('passkeys')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return Number(r.numDeletedRows) === 1
}

export async function deleteUserPasskeys(db: PasskeyDb, userId: string): Promise<void> {
  await db.deleteFrom('passkeys').where('user_id', '=', userId).execute()
}

/** Compare-and-set of the signature counter: false when another sign-in moved it meanwhile. */
export async function updatePasskeyUse(
  db: PasskeyDb,
  id: string,
  expectedCounter: number,
  use: { counter: number; backupState: boolean; now: number },
): Promise<boolean> {
  const r = await db
    .updateTable('passkeys')
    .set({ counter: use.counter, backup_state: use.backupState ? 1 : 0, last_used_at: use.now })
    .where('id', '=', id)
    .where('counter', '=', expectedCounter)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

/** Records a challenge as used; false when it already was (a replay). */
export async function insertUsedChallenge(
  db: PasskeyDb,
  key: string,
  now: number,
  expiresAt: number,
): Promise<boolean> {
  const rows = await db
    .insertInto('webauthn_challenges')
    .values({ key, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column('key')
        .doUpdateSet({ expires_at: expiresAt })
        .where('webauthn_challenges.expires_at', '<=', now),
    )
    .returning('key')
    .execute()
  return rows.length === 1
}

export async function pruneUsedChallenges(db: PasskeyDb, now: number): Promise<number> {
  const r = await db
    .deleteFrom('webauthn_challenges')
    .where('expires_at', '<=', now)
    .executeTakeFirst()
  return Number(r.numDeletedRows)
}
