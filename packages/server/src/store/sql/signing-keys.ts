import type { Kysely } from 'kysely'
import type { Database } from '../sql-store.js'

/**
 * Replaces the encrypted private key of `kid` iff it is still `expected`: a compare-and-set, so of
 * several instances re-encrypting at once after a secret rotation exactly one write lands per key
 * (on PostgreSQL the second waits for the first's row lock, then re-checks and matches nothing).
 */
export async function reencryptSigningKey(
  db: Kysely<Database>,
  kid: string,
  expected: string,
  next: string,
): Promise<boolean> {
  const r = await db
    .updateTable('signing_keys')
    .set({ private_jwk_enc: next })
    .where('kid', '=', kid)
    .where('private_jwk_enc', '=', expected)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}
