import type { TargetProcess } from '../lib/child.js'

/** A server under test, running in its own process. */
export interface BenchTarget {
  /** Short identifier used in the JSON results. */
  key: string
  label: string
  url: string
  /** Every instance's URL when the target runs several behind one database; requests are spread
   * over them in turn, as a load balancer without session affinity does. Default `[url]`. */
  urls?: string[]
  /** The SQLite file it writes, when it has one (for the row counts). */
  dbFile: string | undefined
  tokenPath: string
  /** How its refresh tokens were obtained, for the report. */
  seedMethod: string
  process: TargetProcess
  /** Form fields of a refresh request presenting `refreshToken`. */
  refreshForm: (refreshToken: string) => Record<string, string>
  /** Signs in `n` separate sessions and returns the first refresh token of each. */
  seed: (n: number) => Promise<string[]>
  stop: () => Promise<void>
}
