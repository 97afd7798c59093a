import { describe, expect, it } from 'vitest'
import { evaluateGoals, ratios, type TargetResult } from '../lib/report.js'
import { summarize } from '../lib/stats.js'

function result(
  key: string,
  rps: number,
  p99: number,
  extra: Partial<TargetResult> = {},
): TargetResult {
  return {
    key,
    label: key,
    seedMethod: '',
    seedSeconds: 0,
    requests: 100,
    errors: 0,
    errorKinds: {},
    warmupRequests: 0,
    elapsedSeconds: 1,
    requestsPerSecond: rps,
    latencyMs: { ...summarize([1]), p99 },
    windows: [],
    ...extra,
  }
}

describe('goals', () => {
  it('compares Tessera with each oidc-provider setup: 2x throughput and p99 no worse', () => {
    const rows = {
      refreshes: 320,
      perRefresh: 1,
      byTable: { 'sessions.update': 1 },
      commitsPerRefresh: 1,
    }
    const results = [
      result('tessera', 1000, 50, { rows }),
      result('oidc-provider-memory', 600, 40),
      result('oidc-provider-sqlite', 400, 80),
    ]
    expect(ratios(results)).toEqual({
      'oidc-provider-memory': { throughput: 1000 / 600, p99: 50 / 40 },
      'oidc-provider-sqlite': { throughput: 2.5, p99: 50 / 80 },
    })
    expect(evaluateGoals(results).map((g) => [g.goal, g.baseline, g.pass])).toEqual([
      ["throughput >= 2x oidc-provider's", 'oidc-provider-memory', false],
      ["throughput >= 2x oidc-provider's", 'oidc-provider-sqlite', true],
      ['one row update per refresh', '-', true],
      ["p99 no worse than oidc-provider's", 'oidc-provider-memory', false],
      ["p99 no worse than oidc-provider's", 'oidc-provider-sqlite', true],
    ])
  })

  it('one row update per refresh fails with a second row, or with an insert instead of an update', () => {
    const goal = (rows: TargetResult['rows']) =>
      evaluateGoals([result('tessera', 1, 1, { rows })]).find(
        (g) => g.goal === 'one row update per refresh',
      )
    expect(
      goal({
        refreshes: 10,
        perRefresh: 2,
        byTable: { 'sessions.update': 1, 'events.insert': 1 },
        commitsPerRefresh: 1,
      })?.pass,
    ).toBe(false)
    expect(
      goal({ refreshes: 10, perRefresh: 1, byTable: { 'tokens.insert': 1 }, commitsPerRefresh: 1 })
        ?.pass,
    ).toBe(false)
    expect(
      goal({
        refreshes: 10,
        perRefresh: 1,
        byTable: { 'sessions.update': 1 },
        commitsPerRefresh: 1,
      })?.pass,
    ).toBe(true)
  })

  it('a failed target is left out of the comparison', () => {
    const results = [
      result('tessera', 1000, 50),
      result('oidc-provider-memory', 600, 40, { failure: 'crashed' }),
    ]
    expect(ratios(results)).toEqual({})
    expect(evaluateGoals([result('tessera', 1, 1, { failure: 'x' })])).toEqual([])
  })
})
