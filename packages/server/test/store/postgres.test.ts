import { createTestSchema } from '../helpers/postgres.js'
import { runStoreConformance } from './conformance.js'

/** The same suite as SQLite, unchanged, on the machine's PostgreSQL: a fresh schema per test. */
runStoreConformance('PostgresStore (fresh schema, pool of 5)', async () => {
  const schema = await createTestSchema()
  const store = schema.store({ poolSize: 5 })
  return {
    store,
    async cleanup() {
      await store.close()
      await schema.drop()
    },
  }
})
