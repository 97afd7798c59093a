import type { LatencySummary } from './stats.js'

export interface RowCount {
  /** Successful refreshes during the counting phase. */
  refreshes: number
  /** Rows written per refresh, all tables and operations. */
  perRefresh: number
  /** Rows written per refresh by `table.operation`. */
  byTable: Record<string, number>
  /** Write transactions per refresh (each one fsync of the log with synchronous FULL). */
  commitsPerRefresh: number
}

export interface TargetResult {
  key: string
  label: string
  seedMethod: string
  seedSeconds: number
  accessToken?: { alg: unknown; typ: unknown; claims: string[] }
  responseFields?: string[]
  requests: number
  errors: number
  errorKinds: Record<string, number>
  warmupRequests: number
  elapsedSeconds: number
  requestsPerSecond: number
  latencyMs: LatencySummary
  /** Each measured window on its own, in order: shows how steady the machine was. */
  windows: { requestsPerSecond: number; p50Ms: number; p99Ms: number }[]
  rows?: RowCount
  /** Why the target failed, when it did (setup, crash, error responses). */
  failure?: string
}

export interface Goal {
  goal: string
  baseline: string
  value: string
  pass: boolean
}

const BASELINES = ['oidc-provider-memory', 'oidc-provider-sqlite']

export function ratios(
  results: TargetResult[],
): Record<string, { throughput: number; p99: number }> {
  const tessera = results.find((r) => r.key === 'tessera')
  const out: Record<string, { throughput: number; p99: number }> = {}
  if (!tessera || tessera.failure) return out
  for (const b of results) {
    if (!BASELINES.includes(b.key) || b.failure) continue
    out[b.key] = {
      throughput: tessera.requestsPerSecond / b.requestsPerSecond,
      p99: tessera.latencyMs.p99 / b.latencyMs.p99,
    }
  }
  return out
}

/** The goals: >= 2x oidc-provider's throughput, one row update per refresh, p99 no worse. */
export function evaluateGoals(results: TargetResult[]): Goal[] {
  const tessera = results.find((r) => r.key === 'tessera')
  if (!tessera || tessera.failure) return []
  const goals: Goal[] = []
  const r = ratios(results)
  for (const [baseline, x] of Object.entries(r)) {
    goals.push({
      goal: "throughput >= 2x oidc-provider's",
      baseline,
      value: `${x.throughput.toFixed(2)}x`,
      pass: x.throughput >= 2,
    })
  }
  if (tessera.rows) {
    const ops = Object.keys(tessera.rows.byTable)
    const onlyUpdates = ops.every((k) => k.endsWith('.update'))
    goals.push({
      goal: 'one row update per refresh',
      baseline: '-',
      value: `${tessera.rows.perRefresh.toFixed(2)} rows (${ops.join(', ') || 'none'})`,
      pass: tessera.rows.perRefresh === 1 && onlyUpdates,
    })
  }
  for (const [baseline, x] of Object.entries(r)) {
    const b = results.find((t) => t.key === baseline) as TargetResult
    goals.push({
      goal: "p99 no worse than oidc-provider's",
      baseline,
      value: `${tessera.latencyMs.p99.toFixed(1)} ms vs ${b.latencyMs.p99.toFixed(1)} ms (${x.p99.toFixed(2)}x)`,
      pass: tessera.latencyMs.p99 <= b.latencyMs.p99,
    })
  }
  return goals
}

export function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (align[i] === 'r' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
