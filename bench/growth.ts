/**
 * Growth figures for Tessera on SQLite: refresh throughput and p99 with the 64 bench sessions in
 * the store, then with 1,000,000 more sessions in it, and the bytes one session takes on disk.
 * It prints; no test asserts on it.
 *
 *   npm run build && node --import tsx bench/growth.ts
 *   BENCH_GROWTH_SESSIONS=200000 BENCH_SECONDS=5 node --import tsx bench/growth.ts
 *
 * The extra sessions are copies of a real session row (new ids and salts, every column filled as
 * a sign-in fills it, `active`, live) written straight into the SQLite file by the bench in
 * batches while no load runs; the server keeps running throughout, so its caches are as warm as
 * they would be.
 */
import { randomBytes } from 'node:crypto'
import { statSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import BetterSqlite3 from 'better-sqlite3'
import { envNumber } from './lib/env.js'
import { RoundRobinClient } from './lib/http.js'
import { runRefreshChains, type RefreshChainsResult } from './lib/load.js'
import { startTessera } from './targets/tessera.js'

const SECONDS = envNumber('BENCH_SECONDS', 10, 1, 600)
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 2, 0, 60)
const CHAINS = envNumber('BENCH_CHAINS', 64, 1, 1024)
const EXTRA = envNumber('BENCH_GROWTH_SESSIONS', 1_000_000, 1000, 10_000_000)
/** Rows per fill transaction: short enough that the server's writes are not held up long. */
const FILL_BATCH = 20_000

const log = (s = '') => process.stdout.write(s + '\n')
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-')

/** The database's size on disk with the write-ahead log folded in. */
function bytesOnDisk(file: string): number {
  const db = new BetterSqlite3(file)
  try {
    db.pragma('busy_timeout = 10000')
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
  }
  return statSync(file).size
}

/** Writes `n` copies of one real session row, each with its own id and salt. */
function fill(file: string, n: number): number {
  const db = new BetterSqlite3(file)
  const started = performance.now()
  try {
    db.pragma('busy_timeout = 10000')
    const template = db.prepare('select id from sessions where state = ? limit 1').get('active') as
      { id: string } | undefined
    if (!template) throw new Error('no session to copy')
    const columns = (db.prepare('pragma table_info(sessions)').all() as { name: string }[]).map(
      (c) => c.name,
    )
    const rest = columns.filter((c) => c !== 'id' && c !== 'salt')
    const insert = db.prepare(
      `insert into sessions (id, salt, ${rest.join(', ')}) ` +
        `select ?, ?, ${rest.join(', ')} from sessions where id = ?`,
    )
    const batch = db.transaction((count: number) => {
      for (let i = 0; i < count; i++) {
        insert.run(
          randomBytes(16).toString('base64url'),
          randomBytes(16).toString('base64url'),
          template.id,
        )
      }
    })
    for (let done = 0; done < n; done += FILL_BATCH) batch(Math.min(FILL_BATCH, n - done))
  } finally {
    db.close()
  }
  return (performance.now() - started) / 1000
}

async function measure(
  url: string,
  form: (t: string) => Record<string, string>,
  tokens: string[],
): Promise<RefreshChainsResult> {
  const client = new RoundRobinClient([url], { maxSockets: CHAINS })
  try {
    const r = await runRefreshChains({
      client,
      path: '/oauth/token',
      form,
      tokens,
      warmupMs: WARMUP_SECONDS * 1000,
      durationMs: SECONDS * 1000,
    })
    if (r.errors > 0)
      throw new Error(`${r.errors} failed refreshes: ${JSON.stringify(r.errorKinds)}`)
    return r
  } finally {
    client.close()
  }
}

async function main(): Promise<void> {
  log(
    `Growth: ${CHAINS} refresh chains, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured, ` +
      `with ${CHAINS} sessions in the store, then with ${EXTRA.toLocaleString('en')} more`,
  )
  const target = await startTessera()
  try {
    const dbFile = target.dbFile as string
    let tokens = await target.seed(CHAINS)
    const load = () => loadavg()[0]!.toFixed(1)
    const loadBefore = load()
    const small = await measure(target.url, target.refreshForm, tokens)
    tokens = small.tokens as string[]
    const before = bytesOnDisk(dbFile)
    log(`filling ${EXTRA.toLocaleString('en')} sessions ...`)
    const fillSeconds = fill(dbFile, EXTRA)
    const after = bytesOnDisk(dbFile)
    const loadFilled = load()
    const large = await measure(target.url, target.refreshForm, tokens)
    log()
    log('| sessions in the store | refreshes/s | p50 ms | p99 ms |')
    log('|---|---|---|---|')
    for (const [n, r] of [
      [CHAINS, small],
      [CHAINS + EXTRA, large],
    ] as const) {
      log(
        `| ${n.toLocaleString('en')} | ${fmt(r.requestsPerSecond, 0)} | ${fmt(r.latency.p50, 2)} | ${fmt(r.latency.p99, 2)} |`,
      )
    }
    log()
    log(
      `throughput with ${EXTRA.toLocaleString('en')} more sessions: ` +
        `${fmt((100 * large.requestsPerSecond) / small.requestsPerSecond)}% of the small store; ` +
        `p99 ${fmt((100 * large.latency.p99) / small.latency.p99)}%`,
    )
    log(
      `bytes per session on disk (table and indexes, after a checkpoint): ` +
        `${fmt((after - before) / EXTRA, 0)} (${(before / 1e6).toFixed(1)} MB -> ${(after / 1e6).toFixed(1)} MB; ` +
        `filled in ${fmt(fillSeconds)} s)`,
    )
    // The two windows run minutes apart: on a shared machine, compare only at similar load.
    log(
      `load average (1 min) before each window: ${loadBefore} and ${loadFilled} ` +
        `on ${cpus().length} CPUs`,
    )
  } finally {
    await target.stop()
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`growth bench failed: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
