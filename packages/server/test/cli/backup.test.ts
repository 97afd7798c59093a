import { copyFileSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { postForm } from '../helpers/grants.js'
import { TEST_SECRET, freePort } from '../helpers/test-server.js'
import {
  generationOf,
  refreshForm,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from '../reliability/support.js'
import { cleanEnv, runCli, runInProcess, tempDir } from './cli-process.js'

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

/**
 * Backup and restore on SQLite: `tessera backup <file>` copies the database with SQLite's online
 * backup API while a server (its own process) serves refresh chains that write on every request.
 * The server is stopped, the file restored from the backup, the server started again: every
 * session of the backup is back, and each chain refreshes on from the token it held at the time
 * of the backup; access tokens issued before verify (the signing keys came back too).
 */

const CHAINS = 12

interface Chain {
  sid: string
  latest: string
  accessToken: string
  /** Every refresh token the chain received, by generation. */
  byGeneration: Map<number, string>
}

let tmp: ReturnType<typeof tempDir>
let dbFile: string
let port: number
let child: ChildServer | undefined
const chains: Chain[] = []
const failures: string[] = []

const env = () =>
  cleanEnv({
    TESSERA_ISSUER: `http://127.0.0.1:${port}`,
    TESSERA_SECRET: TEST_SECRET,
    TESSERA_SQLITE_FILE: dbFile,
    TESSERA_LOG_LEVEL: 'silent',
  })

beforeAll(async () => {
  tmp = tempDir('tessera-backup-')
  dbFile = join(tmp.dir, 'tessera.db')
  port = await freePort()
  child = await startChildServer({ dbFile, port })
  const seed = new SqliteStore({ file: dbFile })
  try {
    const user = await seedUser(seed)
    for (let i = 0; i < CHAINS; i++) {
      const { form } = await storeCode(seed, user)
      const r = await postForm(child.url + '/oauth/token', form)
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      const latest = r.body.refresh_token as string
      chains.push({
        sid: sessionIdOf(latest),
        latest,
        accessToken: r.body.access_token as string,
        byGeneration: new Map([[generationOf(latest), latest]]),
      })
    }
  } finally {
    await seed.close()
  }
})

afterAll(async () => {
  if (child) await stopChild(child)
  tmp.remove()
})

async function refreshLoop(c: Chain, stop: () => boolean): Promise<number> {
  let n = 0
  while (!stop()) {
    const r = await postForm(child!.url + '/oauth/token', refreshForm(c.latest))
    if (r.status !== 200) {
      failures.push(`${c.sid}: ${r.status} ${JSON.stringify(r.body)}`)
      return n
    }
    c.latest = r.body.refresh_token as string
    c.byGeneration.set(generationOf(c.latest), c.latest)
    n++
  }
  return n
}

function sessionsIn(file: string): Map<string, { state: string; generation: number }> {
  const db = new BetterSqlite3(file, { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare('select id, state, generation from sessions').all() as {
      id: string
      state: string
      generation: number
    }[]
    return new Map(rows.map((r) => [r.id, { state: r.state, generation: r.generation }]))
  } finally {
    db.close()
  }
}

describe('tessera backup and a restore from it', () => {
  const backupFile = () => join(tmp.dir, 'backup.db')

  it('backs up online while refresh chains write on every request', async () => {
    let stop = false
    const loops = chains.map((c) => refreshLoop(c, () => stop))
    // Let the chains get going, then back up while they run.
    while (chains.some((c) => c.byGeneration.size < 3) && failures.length === 0) {
      await new Promise((r) => setTimeout(r, 10))
    }
    const during = chains.reduce((n, c) => n + c.byGeneration.size, 0)
    const r = await runCli(['backup', backupFile()], { cwd: tmp.dir, env: env() })
    const after = chains.reduce((n, c) => n + c.byGeneration.size, 0)
    stop = true
    await Promise.all(loops)
    expect(failures).toEqual([])
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^backup: ${backupFile()}\npages: \\d+\nbytes: \\d+\n$`))
    // The server wrote while the backup ran.
    expect(after).toBeGreaterThan(during)
    expect(statSync(backupFile()).mode & 0o777).toBe(0o600)
    const backedUp = sessionsIn(backupFile())
    for (const c of chains) {
      const s = backedUp.get(c.sid)
      expect(s?.state).toBe('active')
      // The backup holds a generation the chain really received (one commit's state).
      expect(c.byGeneration.has(s!.generation)).toBe(true)
    }
  })

  it('stop, restore the file, start: every session is back and refreshes from its backed-up token', async () => {
    await stopChild(child!)
    child = undefined
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true })
    copyFileSync(backupFile(), dbFile)
    child = await startChildServer({ dbFile, port })
    const backedUp = sessionsIn(backupFile())
    expect(backedUp.size).toBe(CHAINS)
    for (const c of chains) {
      const token = c.byGeneration.get(backedUp.get(c.sid)!.generation)!
      const r = await postForm(child.url + '/oauth/token', refreshForm(token))
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      const next = await postForm(child.url + '/oauth/token', refreshForm(r.body.refresh_token))
      expect(next.status).toBe(200)
      const info = await fetch(child.url + '/userinfo', {
        headers: { authorization: `Bearer ${c.accessToken}` },
      })
      expect(info.status).toBe(200)
    }
    const restored = sessionsIn(dbFile)
    for (const c of chains) expect(restored.get(c.sid)?.state).toBe('active')
  })
})

describe('tessera backup: refusals', () => {
  const files = tempDir('tessera-backup-refusals-')
  afterAll(() => files.remove())
  const sqliteEnv = (file: string) =>
    cleanEnv({
      TESSERA_ISSUER: 'http://127.0.0.1:4000',
      TESSERA_SECRET: TEST_SECRET,
      TESSERA_SQLITE_FILE: file,
    })

  it('an existing target is refused (65) and left as it was', async () => {
    const db = join(files.dir, 'a.db')
    expect((await runInProcess(['migrate'], { cwd: files.dir, env: sqliteEnv(db) })).code).toBe(0)
    const target = join(files.dir, 'taken.db')
    writeFileSync(target, 'keep me')
    const r = await runInProcess(['backup', target], { cwd: files.dir, env: sqliteEnv(db) })
    expect(r.code).toBe(65)
    expect(r.stderr).toContain('exists already')
    expect(statSync(target).size).toBe(7)
  })

  it('no database file: exit 1, nothing created', async () => {
    const target = join(files.dir, 'none-backup.db')
    const r = await runInProcess(['backup', target], {
      cwd: files.dir,
      env: sqliteEnv(join(files.dir, 'missing.db')),
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no database at')
    expect(existsSync(target)).toBe(false)
  })

  it('on PostgreSQL it points to pg_dump (64) without printing the URL', async () => {
    const r = await runInProcess(['backup', join(files.dir, 'pg.db')], {
      cwd: files.dir,
      env: cleanEnv({
        TESSERA_ISSUER: 'http://127.0.0.1:4000',
        TESSERA_SECRET: TEST_SECRET,
        DATABASE_URL: 'postgres://tessera:hunter2hunter2@127.0.0.1:5432/test',
      }),
    })
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('pg_dump')
    expect(r.stderr).not.toContain('hunter2')
  })

  it('without a file: usage error (64)', async () => {
    const r = await runInProcess(['backup'], {
      cwd: files.dir,
      env: sqliteEnv(join(files.dir, 'a.db')),
    })
    expect(r.code).toBe(64)
  })
})
