import BetterSqlite3 from 'better-sqlite3'
import type { Adapter, AdapterFactory, AdapterPayload } from 'oidc-provider'

/**
 * An oidc-provider adapter on one SQLite file (better-sqlite3, WAL, synchronous FULL: every commit
 * is fsynced, as Tessera's store does). One table keyed by (model, id) with the lookup columns the
 * adapter interface needs, in the shape of oidc-provider's example SQL adapters.
 */
export function sqliteAdapter(file: string): { factory: AdapterFactory; close(): void } {
  const db = new BetterSqlite3(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('busy_timeout = 5000')
  db.exec(`
    create table if not exists oidc_models (
      model text not null,
      id text not null,
      payload text not null,
      grant_id text,
      user_code text,
      uid text,
      expires_at integer,
      consumed_at integer,
      primary key (model, id)
    );
    create index if not exists oidc_models_grant on oidc_models (grant_id);
    create index if not exists oidc_models_user_code on oidc_models (model, user_code);
    create index if not exists oidc_models_uid on oidc_models (model, uid);
  `)
  const upsert = db.prepare(`
    insert into oidc_models (model, id, payload, grant_id, user_code, uid, expires_at)
    values (@model, @id, @payload, @grantId, @userCode, @uid, @expiresAt)
    on conflict (model, id) do update set payload = excluded.payload, grant_id = excluded.grant_id,
      user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`)
  const byId = db.prepare(
    'select payload, expires_at, consumed_at from oidc_models where model = ? and id = ?',
  )
  const byUid = db.prepare(
    'select payload, expires_at, consumed_at from oidc_models where model = ? and uid = ?',
  )
  const byUserCode = db.prepare(
    'select payload, expires_at, consumed_at from oidc_models where model = ? and user_code = ?',
  )
  const consume = db.prepare('update oidc_models set consumed_at = ? where model = ? and id = ?')
  const destroy = db.prepare('delete from oidc_models where model = ? and id = ?')
  const revoke = db.prepare('delete from oidc_models where grant_id = ?')

  interface Row {
    payload: string
    expires_at: number | null
    consumed_at: number | null
  }
  const load = (row: Row | undefined): AdapterPayload | undefined => {
    if (!row) return undefined
    if (row.expires_at !== null && row.expires_at <= Date.now()) return undefined
    const payload = JSON.parse(row.payload) as AdapterPayload
    return row.consumed_at === null ? payload : { ...payload, consumed: row.consumed_at }
  }

  const factory: AdapterFactory = (model: string): Adapter => ({
    upsert(id, payload, expiresIn) {
      upsert.run({
        model,
        id,
        payload: JSON.stringify(payload),
        grantId: payload.grantId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null,
      })
      return Promise.resolve()
    },
    find: (id) => Promise.resolve(load(byId.get(model, id) as Row | undefined)),
    findByUid: (uid) => Promise.resolve(load(byUid.get(model, uid) as Row | undefined)),
    findByUserCode: (code) => Promise.resolve(load(byUserCode.get(model, code) as Row | undefined)),
    consume(id) {
      consume.run(Math.floor(Date.now() / 1000), model, id)
      return Promise.resolve()
    },
    destroy(id) {
      destroy.run(model, id)
      return Promise.resolve()
    },
    revokeByGrantId(grantId) {
      revoke.run(grantId)
      return Promise.resolve()
    },
  })
  return { factory, close: () => db.close() }
}
