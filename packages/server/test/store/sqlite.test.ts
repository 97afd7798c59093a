import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { runStoreConformance } from './conformance.js'

runStoreConformance('SqliteStore (temp file, synchronous FULL)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-store-'))
  const store = new SqliteStore({ file: join(dir, 'tessera.db') })
  return Promise.resolve({
    store,
    async cleanup() {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  })
})

// `:memory:` has no second read connection (it would open another database), so the reads go
// through the writer connection: the same suite covers that path.
runStoreConformance('SqliteStore (:memory:)', () => {
  const store = new SqliteStore({ file: ':memory:' })
  return Promise.resolve({ store, cleanup: () => store.close() })
})
