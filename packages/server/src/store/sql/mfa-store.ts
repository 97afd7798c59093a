/**
 * Second-factor records (TOTP authenticators and recovery codes) and pending session tasks, for
 * every SQL store. Each function is one statement or one transaction; the compare-and-set ones
 * (`useTotpStep`, `useRecoveryCode`) are what makes a code single-use across instances.
 */
import type { Kysely, Selectable } from 'kysely'
import type { Database } from '../sql-store.js'
import type { SecurityEventRecord, SessionTaskCompletion, TotpRecord } from '../types.js'

type Ms = number | string | bigint

export interface TotpCredentialsTable {
  user_id: string
  secret_enc: string
  created_at: Ms
  confirmed_at: Ms | null
  last_step: Ms | null
}

export interface RecoveryCodesTable {
  user_id: string
  code_hash: string
  created_at: Ms
  used_at: Ms | null
}

const num = (v: Ms): number => (typeof v === 'number' ? v : Number(v))

function toTotp(r: Selectable<TotpCredentialsTable>): TotpRecord {
  return {
    userId: r.user_id,
    secretEnc: r.secret_enc,
    createdAt: num(r.created_at),
    confirmedAt: r.confirmed_at === null ? null : num(r.confirmed_at),
    lastStep: r.last_step === null ? null : num(r.last_step),
  }
}

export async function getTotp(
  db: Kysely<Database>,
  userId: string,
): Promise<TotpRecord | undefined> {
  const r = await db
    .selectFrom('totp_credentials')
    .selectAll()
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return r ? toTotp(r) : undefined
}

/** Writes an unconfirmed authenticator, replacing an unconfirmed one; false (nothing written)
 * when the user has a confirmed one. Two enrolments racing leave one of their secrets: callers
 * read the record back and show what was stored. */
export async function beginTotp(trx: Kysely<Database>, t: TotpRecord): Promise<boolean> {
  await trx
    .deleteFrom('totp_credentials')
    .where('user_id', '=', t.userId)
    .where('confirmed_at', 'is', null)
    .execute()
  await trx
    .insertInto('totp_credentials')
    .values({
      user_id: t.userId,
      secret_enc: t.secretEnc,
      created_at: t.createdAt,
      confirmed_at: null,
      last_step: null,
    })
    .onConflict((oc) => oc.column('user_id').doNothing())
    .execute()
  const stored = await getTotp(trx, t.userId)
  return stored !== undefined && stored.confirmedAt === null
}

/** Confirms the user's unconfirmed authenticator whose secret is `secretEnc`, at time step
 * `step`, and replaces the user's recovery codes; false (nothing written) otherwise. */
export async function confirmTotp(
  trx: Kysely<Database>,
  o: { userId: string; secretEnc: string; step: number; now: number; recoveryCodeHashes: string[] },
): Promise<boolean> {
  const r = await trx
    .updateTable('totp_credentials')
    .set({ confirmed_at: o.now, last_step: o.step })
    .where('user_id', '=', o.userId)
    .where('secret_enc', '=', o.secretEnc)
    .where('confirmed_at', 'is', null)
    .executeTakeFirst()
  if (Number(r.numUpdatedRows) !== 1) return false
  await trx.deleteFrom('recovery_codes').where('user_id', '=', o.userId).execute()
  if (o.recoveryCodeHashes.length > 0) {
    await trx
      .insertInto('recovery_codes')
      .values(
        o.recoveryCodeHashes.map((h) => ({
          user_id: o.userId,
          code_hash: h,
          created_at: o.now,
          used_at: null,
        })),
      )
      .execute()
  }
  return true
}

/** Records `step` as used iff the confirmed authenticator has not accepted it or a later one. */
export async function useTotpStep(
  db: Kysely<Database>,
  userId: string,
  step: number,
): Promise<boolean> {
  const r = await db
    .updateTable('totp_credentials')
    .set({ last_step: step })
    .where('user_id', '=', userId)
    .where('confirmed_at', 'is not', null)
    .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

/** Spends the recovery code iff it is the user's and unused. */
export async function useRecoveryCode(
  db: Kysely<Database>,
  userId: string,
  codeHash: string,
  now: number,
): Promise<boolean> {
  const r = await db
    .updateTable('recovery_codes')
    .set({ used_at: now })
    .where('user_id', '=', userId)
    .where('code_hash', '=', codeHash)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

export async function countRecoveryCodes(db: Kysely<Database>, userId: string): Promise<number> {
  const r = await db
    .selectFrom('recovery_codes')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('user_id', '=', userId)
    .where('used_at', 'is', null)
    .executeTakeFirst()
  return Number(r?.n ?? 0)
}

/** Deletes the user's authenticator and recovery codes; whether there was an authenticator. */
export async function resetMfa(trx: Kysely<Database>, userId: string): Promise<boolean> {
  const r = await trx
    .deleteFrom('totp_credentials')
    .where('user_id', '=', userId)
    .executeTakeFirst()
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute()
  return Number(r.numDeletedRows) > 0
}

/**
 * Completes `task` of the pending sessions started from `browserSessionId`, or of every pending
 * session of `userId`: they become `active` (with the authentication that completed it, `amr` and
 * `authTime`, when given), or, for the clients of `next`, `pending` with the next task. Returns
 * the sessions whose task was completed.
 */
export async function completeSessionTask(
  trx: Kysely<Database>,
  o: SessionTaskCompletion,
): Promise<{ id: string; userId: string; clientId: string }[]> {
  let q = trx
    .updateTable('sessions')
    .set({
      state: 'active',
      task: null,
      ...(o.amr ? { amr: JSON.stringify(o.amr) } : {}),
      ...(o.authTime !== undefined ? { auth_time: o.authTime } : {}),
    })
    .where('state', '=', 'pending')
    .where('task', '=', o.task)
  q =
    'browserSessionId' in o
      ? q.where('browser_session_id', '=', o.browserSessionId)
      : q.where('user_id', '=', o.userId)
  const rows = await q.returning(['id', 'user_id', 'client_id']).execute()
  const done = rows.map((r) => ({ id: r.id, userId: r.user_id, clientId: r.client_id }))
  const next = o.next
  const held =
    next === undefined
      ? []
      : done.filter((s) => next.clientIds === 'all' || next.clientIds.includes(s.clientId))
  if (next && held.length > 0) {
    await trx
      .updateTable('sessions')
      .set({ state: 'pending', task: next.task })
      .where(
        'id',
        'in',
        held.map((s) => s.id),
      )
      .where('state', '=', 'active')
      .execute()
  }
  return done
}

export type EventsFor = (
  sessions: { id: string; userId: string; clientId: string }[],
) => SecurityEventRecord[]
