/**
 * SQL of the upstream links (an upstream provider's subject -> a Tessera user), shared by SQLite
 * and PostgreSQL. Kept out of sql-store.ts, which delegates here.
 */
import type { Kysely } from 'kysely'
import type { UpstreamLinkRecord } from '../types.js'

type Ms = number | string | bigint

export interface UpstreamLinksTable {
  provider_id: string
  subject: string
  user_id: string
  created_at: Ms
}

export interface UpstreamTables {
  upstream_links: UpstreamLinksTable
}

export type UpstreamDb = Kysely<UpstreamTables>

/** A store's database as the upstream tables alone (Kysely's database type is invariant). */
export function upstreamDb<D extends UpstreamTables>(db: Kysely<D>): UpstreamDb {
  return db as unknown as UpstreamDb
}

function toRecord(r: UpstreamLinksTable): UpstreamLinkRecord {
  return {
    providerId: r.provider_id,
    subject: r.subject,
    userId: r.user_id,
    createdAt: Number(r.created_at),
  }
}

export async function selectUpstreamLink(
  db: UpstreamDb,
  providerId: string,
  subject: string,
): Promise<UpstreamLinkRecord | undefined> {
  const r = await db
    .selectFrom('upstream_links')
    .selectAll()
    .where('provider_id', '=', providerId)
    .where('subject', '=', subject)
    .executeTakeFirst()
  return r ? toRecord(r) : undefined
}

export async function selectUserUpstreamLinks(
  db: UpstreamDb,
  userId: string,
): Promise<UpstreamLinkRecord[]> {
  const rows = await db
    .selectFrom('upstream_links')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('provider_id')
    .execute()
  return rows.map(toRecord)
}

/** Inserts the link unless the subject is already linked; false then (the first link stands). */
export async function insertUpstreamLink(db: UpstreamDb, l: UpstreamLinkRecord): Promise<boolean> {
  const r = await db
    .insertInto('upstream_links')
    .values({
      provider_id: l.providerId,
      subject: l.subject,
      user_id: l.userId,
      created_at: l.createdAt,
    })
    .onConflict((oc) => oc.columns(['provider_id', 'subject']).doNothing())
    .executeTakeFirst()
  return Number(r.numInsertedOrUpdatedRows ?? 0) === 1
}

export async function deleteUserUpstreamLinks(db: UpstreamDb, userId: string): Promise<void> {
  await db.deleteFrom('upstream_links').where('user_id', '=', userId).execute()
}
