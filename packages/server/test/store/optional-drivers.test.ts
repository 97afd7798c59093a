import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { MissingPackageError, loadDriver } from '../../src/store/optional-package.js'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { cleanEnv, runCli, tempDir } from '../cli/cli-process.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const HIDE = pathToFileURL(
  fileURLToPath(new URL('./fixtures/hide-packages.mjs', import.meta.url)),
).href

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir('tessera-drivers-')
})
afterAll(() => tmp.remove())

/** `require` from a directory with no node_modules above it: Node's own "not installed". */
const requireFromNowhere = () => createRequire(join(tmp.dir, 'nowhere.js'))

const SQLITE_MISSING =
  'the SQLite store needs the better-sqlite3 package, which is not installed: run npm install ' +
  'better-sqlite3, or use PostgreSQL (DATABASE_URL, or database.driver "postgres")'
const PG_MISSING =
  'the PostgreSQL store needs the pg package, which is not installed: run npm install pg'

describe('better-sqlite3 and pg are optional: each is loaded when its store is built', () => {
  it('a store whose driver is not installed fails with an error naming the package and how to install it', () => {
    const load = requireFromNowhere()
    expect(() => load('better-sqlite3')).toThrow(/Cannot find module 'better-sqlite3'/)
    const sqlite = (() => {
      try {
        new SqliteStore({ file: join(tmp.dir, 'never.db'), loadPackage: load })
      } catch (err) {
        return err
      }
    })()
    expect(sqlite).toBeInstanceOf(MissingPackageError)
    expect(sqlite).toMatchObject({
      message: SQLITE_MISSING,
      package: 'better-sqlite3',
      code: 'ERR_TESSERA_MISSING_PACKAGE',
    })
    expect(() => new PostgresStore({ url: PG_URL, loadPackage: load })).toThrow(PG_MISSING)
  })

  it('any other failure to load a driver is thrown as it is (not reported as missing)', () => {
    const nested = Object.assign(new Error("Cannot find module 'bindings'"), {
      code: 'MODULE_NOT_FOUND',
    })
    expect(() =>
      loadDriver('better-sqlite3', () => {
        throw nested
      }),
    ).toThrow(nested)
    const abi = new Error('The module was compiled against a different Node.js version')
    expect(() =>
      loadDriver('pg', () => {
        throw abi
      }),
    ).toThrow(abi)
  })
})

describe('a deployment without one of the drivers (child processes with the package hidden)', () => {
  let schema: TestSchema
  beforeAll(async () => {
    schema = await createTestSchema()
  })
  afterAll(async () => {
    await schema.drop()
  })

  const env = (hide: string, extra: Record<string, string>) =>
    cleanEnv({
      NODE_OPTIONS: `--import ${HIDE}`,
      TESSERA_HIDE_PACKAGES: hide,
      TESSERA_ISSUER: 'http://127.0.0.1:4000',
      TESSERA_SECRET: 'optional-drivers-secret-optional-drivers-secret',
      ...extra,
    })

  it('PostgreSQL only: without better-sqlite3, tessera migrate runs on PostgreSQL', async () => {
    const url = new URL(PG_URL)
    url.searchParams.set('options', `-c search_path=${schema.name}`)
    const r = await runCli(['migrate'], {
      cwd: tmp.dir,
      env: env('better-sqlite3', { DATABASE_URL: url.href }),
    })
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('migrated: postgres\n')
    expect(r.code).toBe(0)
    const c = await schema.admin()
    try {
      const { rows } = await c.query<{ n: string }>('select count(*) as n from signing_keys')
      expect(rows[0]?.n).toBeDefined()
    } finally {
      await c.end()
    }
  })

  it('without better-sqlite3, a SQLite configuration stops start-up with exit 78 and the one line', async () => {
    const r = await runCli(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: env('better-sqlite3', { TESSERA_SQLITE_FILE: join(tmp.dir, 'never.db') }),
    })
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(`tessera: ${SQLITE_MISSING}\n`)
    expect(r.code).toBe(78)
  })

  it('SQLite only: without pg, tessera migrate runs on SQLite; a PostgreSQL configuration names pg', async () => {
    const ok = await runCli(['migrate'], {
      cwd: tmp.dir,
      env: env('pg', { TESSERA_SQLITE_FILE: join(tmp.dir, 'sqlite-only.db') }),
    })
    expect(ok.stderr).toBe('')
    expect(ok.stdout).toBe(`migrated: ${join(tmp.dir, 'sqlite-only.db')}\n`)
    expect(ok.code).toBe(0)
    const missing = await runCli(['migrate'], {
      cwd: tmp.dir,
      env: env('pg', { DATABASE_URL: PG_URL }),
    })
    expect(missing.stderr).toBe(`tessera: ${PG_MISSING}\n`)
    expect(missing.code).toBe(78)
  })
})
