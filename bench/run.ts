/**
 * The refresh-grant benchmark: Tessera vs oidc-provider, side by side in one run.
 *
 *   npm run bench                       # all targets, 10 s measured each after a 2 s warm-up
 *   BENCH_TARGETS=tessera,tessera-postgres,tessera-postgres-2 npm run bench   # Tessera's stores
 *   BENCH_SECONDS=30 npm run bench      # longer measured window
 *   BENCH_TARGETS=tessera BENCH_PROFILE=1 npm run bench   # CPU profile of Tessera's process
 *
 * See bench/README.md for what is measured and how.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { inspectRefreshResponse } from './lib/equivalence.js'
import { RoundRobinClient } from './lib/http.js'
import { runRefreshChains } from './lib/load.js'
import { formatProfileSummary, summarizeProfile, type ProfileSummary } from './lib/profile.js'
import { evaluateGoals, ratios, table, type TargetResult } from './lib/report.js'
import { RowWriteCounter } from './lib/row-counter.js'
import { summarize } from './lib/stats.js'
import { startOidcProvider } from './targets/oidc-provider.js'
import type { BenchTarget } from './targets/target.js'
import { startTessera, startTesseraPostgres } from './targets/tessera.js'
import { envNumber } from './lib/env.js'

const SECONDS = envNumber('BENCH_SECONDS', 10, 1, 600)
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 2, 0, 60)
const CHAINS = envNumber('BENCH_CHAINS', 64, 1, 1024)
/** The measured time of each target is split into this many windows, taken in turn. */
const ROUNDS = envNumber('BENCH_ROUNDS', 2, 1, 20)
/** Refreshes per chain in the row-counting phase. */
const ROW_PHASE_PER_CHAIN = 2
const PROFILE = process.env.BENCH_PROFILE === '1'
const ALL_TARGETS = [
  'tessera',
  'tessera-postgres',
  'tessera-postgres-2',
  'oidc-provider-memory',
  'oidc-provider-sqlite',
] as const
type TargetKey = (typeof ALL_TARGETS)[number]
const TARGETS = (process.env.BENCH_TARGETS ?? ALL_TARGETS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '') as TargetKey[]
for (const t of TARGETS) {
  if (!ALL_TARGETS.includes(t))
    throw new Error(`unknown target ${t}; use ${ALL_TARGETS.join(', ')}`)
}

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const profileDir = join(resultsDir, 'profiles')

const ROW_METHOD =
  'after the measured windows the bench installs AFTER INSERT/UPDATE/DELETE triggers on every ' +
  'table of the SQLite file (they fire for the server process too) and empties the write-ahead ' +
  `log; while each chain does ${ROW_PHASE_PER_CHAIN} more refreshes, the triggers count rows and ` +
  'the log collects one commit frame per transaction (a read transaction held open keeps it from ' +
  'restarting); per refresh = count / successful refreshes'

const log = (s = '') => process.stdout.write(s + '\n')
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-')

/** A target being benchmarked, with its chains' current tokens and its accumulating figures. */
interface Run {
  key: TargetKey
  target?: BenchTarget
  tokens: string[]
  samples: number[]
  measuredMs: number
  result: TargetResult
}

function start(key: TargetKey): Promise<BenchTarget> {
  if (key === 'tessera') return startTessera()
  if (key === 'tessera-postgres') return startTesseraPostgres(1)
  if (key === 'tessera-postgres-2') return startTesseraPostgres(2)
  return startOidcProvider(key === 'oidc-provider-memory' ? 'memory' : 'sqlite')
}

function emptyResult(key: TargetKey): TargetResult {
  return {
    key,
    label: key,
    seedMethod: '',
    seedSeconds: 0,
    requests: 0,
    errors: 0,
    errorKinds: {},
    warmupRequests: 0,
    elapsedSeconds: 0,
    requestsPerSecond: 0,
    latencyMs: summarize([]),
    windows: [],
  }
}

function fail(run: Run, why: string): void {
  run.result.failure ??= why
  log(`  ${run.result.label} FAILED: ${why}`)
  if (run.target) log(run.target.process.output)
}

/**
 * Drives the chains of one target for a while; false when the target failed. Each call opens its
 * own connections (one per chain) and closes them after, so no connection sits idle through the
 * other targets' windows.
 */
async function drive(run: Run, warmupMs: number, durationMs: number): Promise<boolean> {
  const t = run.target!
  const client = new RoundRobinClient(t.urls ?? [t.url], { maxSockets: CHAINS })
  const r = await runRefreshChains({
    client,
    path: t.tokenPath,
    form: t.refreshForm,
    tokens: run.tokens,
    warmupMs,
    durationMs,
  }).finally(() => client.close())
  const res = run.result
  res.errors += r.errors
  for (const [k, n] of Object.entries(r.errorKinds))
    res.errorKinds[k] = (res.errorKinds[k] ?? 0) + n
  res.warmupRequests += r.warmupRequests
  res.requests += r.requests
  run.samples.push(...r.samples)
  run.measuredMs += r.elapsedMs
  if (durationMs > 0) {
    res.windows.push({
      requestsPerSecond: r.requestsPerSecond,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
    })
  }
  if (r.sample && !res.accessToken) {
    const shape = inspectRefreshResponse(r.sample)
    res.accessToken = { alg: shape.alg, typ: shape.typ, claims: shape.claims }
    res.responseFields = shape.responseFields
    if (shape.problems.length > 0) {
      fail(run, `its tokens lack what both targets must issue: ${shape.problems.join('; ')}`)
      return false
    }
  }
  if (r.errors > 0) {
    fail(run, `${r.errors} failed refreshes: ${JSON.stringify(r.errorKinds)}`)
    return false
  }
  run.tokens = r.tokens as string[]
  return true
}

async function countRows(run: Run): Promise<void> {
  const t = run.target!
  if (!t.dbFile) return
  const counter = RowWriteCounter.install(t.dbFile)
  const client = new RoundRobinClient(t.urls ?? [t.url], { maxSockets: CHAINS })
  try {
    counter.startCommitCount()
    const phase = await runRefreshChains({
      client,
      path: t.tokenPath,
      form: t.refreshForm,
      tokens: run.tokens,
      warmupMs: 0,
      durationMs: 120_000,
      maxRequestsPerChain: ROW_PHASE_PER_CHAIN,
    })
    const commits = counter.endCommitCount()
    const counts = counter.read()
    if (phase.errors > 0) {
      fail(
        run,
        `row-count phase: ${phase.errors} failed refreshes: ${JSON.stringify(phase.errorKinds)}`,
      )
      return
    }
    const per = (n: number) => n / phase.ok
    run.result.rows = {
      refreshes: phase.ok,
      perRefresh: per(Object.values(counts).reduce((a, b) => a + b, 0)),
      byTable: Object.fromEntries(Object.entries(counts).map(([k, n]) => [k, per(n)])),
      commitsPerRefresh: per(commits),
    }
  } finally {
    client.close()
    counter.uninstall()
  }
}

async function main(): Promise<void> {
  const cpu = cpus()
  log(
    `Refresh-token grant benchmark: ${CHAINS} concurrent refresh chains per target, ${WARMUP_SECONDS} s ` +
      `warm-up + ${SECONDS} s measured per target (${ROUNDS} windows of ${fmt(SECONDS / ROUNDS)} s, ` +
      'targets taken in turn), keep-alive HTTP/1.1 from the bench process',
  )
  log(
    `Machine: ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}), Node ${process.version}, ${platform()} ${release()}`,
  )
  const loadBefore = loadavg()[0] ?? 0
  log(`Load average (1 min) before the run: ${loadBefore.toFixed(2)}`)
  if (loadBefore > cpu.length / 2) {
    log(
      '  WARNING: the machine is busy; other processes share the CPUs and the disk, so figures are low and noisy',
    )
  }
  if (PROFILE) {
    log(
      'BENCH_PROFILE=1: Tessera is CPU-profiled while measured, so its figures are lower than usual',
    )
  }
  log()

  const runs: Run[] = TARGETS.map((key) => ({
    key,
    tokens: [],
    samples: [],
    measuredMs: 0,
    result: emptyResult(key),
  }))
  const alive = () => runs.filter((r) => r.target && !r.result.failure)
  const tessera = runs.find((r) => r.key === 'tessera')
  const profileFile = join(
    profileDir,
    `tessera-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
  )
  let profiled = false

  try {
    // Start and sign in every target first; an idle target costs the others nothing.
    for (const run of runs) {
      try {
        run.target = await start(run.key)
        const t = run.target
        run.result.label = t.label
        run.result.seedMethod = t.seedMethod
        const t0 = performance.now()
        run.tokens = await t.seed(CHAINS)
        run.result.seedSeconds = (performance.now() - t0) / 1000
        log(
          `${t.label}: ${t.url}, pid ${t.process.pid}, ${CHAINS} sessions signed in in ${fmt(run.result.seedSeconds)} s`,
        )
      } catch (err) {
        fail(run, err instanceof Error ? err.message : String(err))
      }
    }
    log()

    for (const run of alive()) {
      log(`warm-up ${run.result.label}`)
      await drive(run, WARMUP_SECONDS * 1000, 0)
    }
    if (PROFILE && tessera?.target && !tessera.result.failure) {
      mkdirSync(profileDir, { recursive: true })
      await tessera.target.process.call('profile-start')
    }
    for (let round = 1; round <= ROUNDS; round++) {
      for (const run of alive()) {
        if (!(await drive(run, 0, (SECONDS * 1000) / ROUNDS))) continue
        const n = run.samples.length
        log(
          `window ${round}/${ROUNDS} ${run.result.label}: ${n} refreshes, ${fmt((n * 1000) / Math.max(1, run.measuredMs), 0)}/s so far`,
        )
      }
    }
    if (PROFILE && tessera?.target && !tessera.result.failure) {
      await tessera.target.process.call('profile-stop', { file: profileFile })
      profiled = true
    }
    for (const run of alive()) await countRows(run)
  } finally {
    for (const run of runs) await run.target?.stop()
  }

  for (const run of runs) {
    const r = run.result
    r.latencyMs = summarize(run.samples)
    r.elapsedSeconds = run.measuredMs / 1000
    r.requestsPerSecond = run.measuredMs > 0 ? (r.requests * 1000) / run.measuredMs : 0
  }
  const results = runs.map((r) => r.result)

  let profile: ProfileSummary | undefined
  if (profiled) {
    profile = summarizeProfile(profileFile)
    log(`CPU profile of Tessera's measured windows: ${profileFile}`)
  }

  log()
  log('Results')
  log(
    table(
      [
        ['target', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'req/s by window'],
        ...results.map((r) => [
          r.label,
          fmt(r.requestsPerSecond, 0),
          fmt(r.latencyMs.p50),
          fmt(r.latencyMs.p99),
          fmt(r.latencyMs.max),
          r.failure && r.requests === 0 ? 'FAILED' : String(r.errors),
          r.windows.map((w) => fmt(w.requestsPerSecond, 0)).join(' '),
        ]),
      ],
      ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
    ),
  )
  log()
  const r = ratios(results)
  for (const [baseline, x] of Object.entries(r)) {
    log(`Tessera / ${baseline}: throughput ${x.throughput.toFixed(2)}x, p99 ${x.p99.toFixed(2)}x`)
  }
  if (Object.keys(r).length > 0) log()

  const withRows = results.filter((t) => t.rows)
  if (withRows.length > 0) {
    log('Rows written and commits (fsyncs) per refresh, measured')
    for (const t of withRows) {
      const rows = t.rows!
      const parts = Object.entries(rows.byTable).map(([k, v]) => `${k} ${v.toFixed(2)}`)
      log(
        `  ${t.label}: ${rows.perRefresh.toFixed(2)} rows (${parts.join(', ')}), ` +
          `${rows.commitsPerRefresh.toFixed(2)} commits; ${rows.refreshes} refreshes`,
      )
    }
    log(`  method: ${ROW_METHOD}`)
    log()
  }

  log('How the refresh tokens were obtained')
  for (const t of results) if (t.seedMethod) log(`  ${t.label}: ${t.seedMethod}`)
  log()
  log('Access tokens issued at refresh')
  for (const t of results) {
    if (t.accessToken) {
      log(
        `  ${t.label}: ${String(t.accessToken.alg)} ${String(t.accessToken.typ)}, claims ` +
          `${t.accessToken.claims.join(' ')}; response ${t.responseFields?.join(' ')}`,
      )
    }
  }
  log()

  const goals = evaluateGoals(results)
  if (goals.length > 0) {
    log('Goals (from the issue)')
    log(
      table(
        goals.map((g) => [
          g.pass ? 'PASS' : 'MISS',
          g.goal,
          g.baseline === '-' ? '' : `vs ${g.baseline}`,
          g.value,
        ]),
        ['l', 'l', 'l', 'l'],
      ),
    )
    log()
  }

  if (profile) {
    log("Where Tessera's time goes")
    log(formatProfileSummary(profile))
    log()
  }

  const failed = results.filter((t) => t.failure)
  mkdirSync(resultsDir, { recursive: true })
  const out = join(resultsDir, 'refresh.json')
  writeFileSync(
    out,
    JSON.stringify(
      {
        benchmark: 'refresh_token grant, rotating, public client',
        date: new Date().toISOString(),
        machine: {
          cpus: cpu.length,
          cpuModel: cpu[0]?.model.trim(),
          memoryGiB: Math.round(totalmem() / 2 ** 30),
          node: process.version,
          os: `${platform()} ${release()}`,
          loadAverageBefore: loadBefore,
          loadAverageAfter: loadavg()[0],
        },
        settings: {
          chains: CHAINS,
          warmupSeconds: WARMUP_SECONDS,
          seconds: SECONDS,
          rounds: ROUNDS,
          profiled: PROFILE,
        },
        rowCountMethod: ROW_METHOD,
        targets: Object.fromEntries(results.map((t) => [t.key, t])),
        ratios: r,
        goals,
        ...(profile ? { tesseraProfile: profile } : {}),
        failed: failed.length > 0,
      },
      null,
      2,
    ) + '\n',
  )
  log(`Figures written to ${out}`)
  if (failed.length > 0) {
    for (const t of failed) log(`FAILED ${t.label}: ${t.failure}`)
    process.exitCode = 1
  }
}

await main()
