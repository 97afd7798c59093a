export type { Store, CodeRedemption, RotateResult } from './store.js'
export type * from './types.js'
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js'
export { PostgresStore, type PostgresStoreOptions } from './postgres-store.js'
