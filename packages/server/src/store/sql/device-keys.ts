/**
 * SQL of the device keys of native apps (biometric step-up): an ES256 public key per device,
 * whose private half stays in the device's Secure Enclave / Android Keystore. Shared by SQLite and
 * PostgreSQL; sql-store.ts delegates here. Used step-up challenges go to the WebAuthn challenge
 * table (sql/passkeys.ts) under their own key prefix.
 */
import type { Kysely } from 'kysely'
import type { DeviceKeyRecord } from '../types.js'

type Ms = number | string | bigint

export interface DeviceKeysTable {
  id: string
  user_id: string
  name: string
  /** The public key as a JWK (JSON text): kty EC, crv P-256, x, y. */
  public_jwk: string
  /** RFC 7638 thumbprint of the key: a key is registered once per user. */
  jkt: string
  created_at: Ms
  last_used_at: Ms | null
}

export interface DeviceKeyTables {
  device_keys: DeviceKeysTable
}

export type DeviceKeyDb = Kysely<DeviceKeyTables>

/** A store's database as the device key table alone (see passkeyDb). */
export function deviceKeyDb<D extends DeviceKeyTables>(db: Kysely<D>): DeviceKeyDb {
  return db as unknown as DeviceKeyDb
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))

function toRecord(r: DeviceKeysTable): DeviceKeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    publicJwk: JSON.parse(r.public_jwk) as DeviceKeyRecord['publicJwk'],
    jkt: r.jkt,
    createdAt: num(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : num(r.last_used_at),
  }
}

export async function insertDeviceKey(db: DeviceKeyDb, k: DeviceKeyRecord): Promise<void> {
  await db
    .insertInto('device_keys')
    .values({
      id: k.id,
      user_id: k.userId,
      name: k.name,
      public_jwk: JSON.stringify(k.publicJwk),
      jkt: k.jkt,
      created_at: k.createdAt,
      last_used_at: k.lastUsedAt,
    })
    .execute()
}

export async function selectDeviceKey(
  db: DeviceKeyDb,
  id: string,
): Promise<DeviceKeyRecord | undefined> {
  const r = await db.selectFrom('device_keys').selectAll().where('id', '=', id).executeTakeFirst()
  return r ? toRecord(r) : undefined
}

export async function selectDeviceKeys(
  db: DeviceKeyDb,
  userId: string,
): Promise<DeviceKeyRecord[]> {
  const rows = await db
    .selectFrom('device_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  return rows.map(toRecord)
}

export async function deleteDeviceKeyRow(
  db: DeviceKeyDb,
  userId: string,
  id: string,
): Promise<boolean> {
  const r = await db
    .deleteFrom('device_keys')
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return Number(r.numDeletedRows) === 1
}

export async function deleteUserDeviceKeys(db: DeviceKeyDb, userId: string): Promise<void> {
  await db.deleteFrom('device_keys').where('user_id', '=', userId).execute()
}

export async function touchDeviceKey(db: DeviceKeyDb, id: string, now: number): Promise<void> {
  await db.updateTable('device_keys').set({ last_used_at: now }).where('id', '=', id).execute()
}
