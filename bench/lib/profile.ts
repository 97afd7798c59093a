import { readFileSync } from 'node:fs'

/** The parts of a V8 .cpuprofile (as written by `node --cpu-prof`) the summary reads. */
interface CpuProfile {
  nodes: {
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: number[]
  }[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

export interface FrameTime {
  frame: string
  ms: number
  /** Share of the busy (non-idle) time. */
  share: number
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  busyMs: number
  /** Self time by function. */
  topSelf: FrameTime[]
  /** Self time by area: a package, a Node subsystem, Tessera's own source files, GC. */
  byArea: FrameTime[]
  /** Inclusive (self + callees) time of Tessera's own functions. */
  tesseraInclusive: FrameTime[]
}

const TESSERA = /\/packages\/server\/(?:src|dist)\//
const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)'])

function shortUrl(url: string): string {
  const m = /\/packages\/server\/(?:src|dist)\/(.*)$/.exec(url)
  if (m) return `server/${m[1]}`
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(url)
  if (nm) return `${nm[1]}/${nm[2]}`
  return url.replace(/^file:\/\//, '')
}

/** Which part of the stack a frame belongs to. */
export function areaOf(url: string, functionName: string): string {
  if (SPECIAL.has(functionName) && url === '') return functionName
  if (url === '') return '(native / V8 builtins)'
  if (TESSERA.test(url)) return `tessera ${shortUrl(url).replace(/^server\//, '')}`
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (nm) return nm[1] as string
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url)
  if (internal) return `node:${internal[1]}`
  return shortUrl(url)
}

function label(f: CpuProfile['nodes'][number]['callFrame']): string {
  const name = f.functionName || '(anonymous)'
  if (f.url === '') return name
  return `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}`
}

/** Summarises where a CPU profile spent its time: top functions by self time, areas, and the
 * inclusive time of Tessera's own functions. */
export function summarizeProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

  const self = new Map<string, number>()
  const area = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let idle = 0
  let total = 0
  p.samples.forEach((id, i) => {
    // timeDeltas[i] is the time before sample i; attribute it to the sample (V8's convention).
    const dt = (p.timeDeltas[i] ?? 0) / 1000
    total += dt
    const node = byId.get(id)
    if (!node) return
    const f = node.callFrame
    if (f.functionName === '(idle)') {
      idle += dt
      return
    }
    // A native frame (better-sqlite3's `all`, `run`, `Statement`; a crypto job) says little on
    // its own: name the JavaScript function that called it.
    const caller =
      f.url === '' && !SPECIAL.has(f.functionName) ? byId.get(parent.get(id) ?? -1) : undefined
    const k = caller ? `${label(f)} (native, called by ${label(caller.callFrame)})` : label(f)
    self.set(k, (self.get(k) ?? 0) + dt)
    const a = areaOf(f.url, f.functionName)
    area.set(a, (area.get(a) ?? 0) + dt)
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)?.callFrame
      if (!cf || !TESSERA.test(cf.url)) continue
      const ck = label(cf)
      if (seen.has(ck)) continue
      seen.add(ck)
      inclusive.set(ck, (inclusive.get(ck) ?? 0) + dt)
    }
  })
  const busy = total - idle
  const rank = (m: Map<string, number>, n: number): FrameTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([frame, ms]) => ({ frame, ms, share: busy > 0 ? ms / busy : 0 }))
  return {
    totalMs: total,
    idleMs: idle,
    busyMs: busy,
    topSelf: rank(self, top),
    byArea: rank(area, top),
    tesseraInclusive: rank(inclusive, top),
  }
}

export function formatProfileSummary(s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`
  const lines = [
    `CPU profile: ${(s.totalMs / 1000).toFixed(1)} s sampled, ${(s.busyMs / 1000).toFixed(1)} s busy ` +
      `(${pct(s.busyMs / Math.max(1, s.totalMs)).trim()}); shares below are of busy time`,
    '  by area (self time):',
    ...s.byArea.map((f) => `    ${pct(f.share)}  ${f.frame}`),
    '  top functions (self time):',
    ...s.topSelf.map((f) => `    ${pct(f.share)}  ${f.frame}`),
    "  Tessera's functions (inclusive time; synchronous stacks only: work after an await is",
    '  counted for the function that resumes, not for its callers):',
    ...s.tesseraInclusive.map((f) => `    ${pct(f.share)}  ${f.frame}`),
  ]
  return lines.join('\n')
}
