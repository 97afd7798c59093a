import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { areaOf, summarizeProfile } from '../lib/profile.js'

const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const frame = (functionName: string, url: string, lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
  scriptId: '0',
})

describe('CPU profile summary', () => {
  it('adds self time per function and area, inclusive time per Tessera function, and leaves idle out', () => {
    const grant = 'file:///repo/packages/server/dist/oauth/token/refresh-token.js'
    const driver = 'file:///repo/node_modules/kysely/dist/esm/dialect/sqlite/sqlite-driver.js'
    // root -> refreshTokenGrant -> executeQuery -> all (native); root -> (idle)
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
        { id: 2, callFrame: frame('refreshTokenGrant', grant, 17), children: [3] },
        { id: 3, callFrame: frame('executeQuery', driver, 59), children: [5] },
        { id: 4, callFrame: frame('(idle)', '') },
        { id: 5, callFrame: frame('all', '') },
      ],
      startTime: 0,
      endTime: 10_000,
      // 2 ms in executeQuery, 1 ms in the native `all` it calls, 1 ms in the grant itself, 6 ms
      // idle (deltas in microseconds)
      samples: [3, 5, 3, 2, 4, 4, 4, 4, 4, 4],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    }
    const file = join(dir, 'p.cpuprofile')
    writeFileSync(file, JSON.stringify(profile))
    const s = summarizeProfile(file)
    expect(s.totalMs).toBe(10)
    expect(s.idleMs).toBe(6)
    expect(s.busyMs).toBe(4)
    const driver60 = 'executeQuery kysely/dist/esm/dialect/sqlite/sqlite-driver.js:60'
    expect(s.topSelf).toEqual([
      { frame: driver60, ms: 2, share: 0.5 },
      { frame: `all (native, called by ${driver60})`, ms: 1, share: 0.25 },
      { frame: 'refreshTokenGrant server/oauth/token/refresh-token.js:18', ms: 1, share: 0.25 },
    ])
    expect(s.byArea).toEqual([
      { frame: 'kysely', ms: 2, share: 0.5 },
      { frame: '(native / V8 builtins)', ms: 1, share: 0.25 },
      { frame: 'tessera oauth/token/refresh-token.js', ms: 1, share: 0.25 },
    ])
    expect(s.tesseraInclusive).toEqual([
      { frame: 'refreshTokenGrant server/oauth/token/refresh-token.js:18', ms: 4, share: 1 },
    ])
  })

  it('names areas by package, Node subsystem or Tessera file', () => {
    expect(areaOf('node:internal/crypto/util', 'x')).toBe('node:crypto')
    expect(areaOf('node:_http_server', 'x')).toBe('node:_http_server')
    expect(areaOf('file:///r/node_modules/@fastify/ajv-compiler/index.js', 'x')).toBe(
      '@fastify/ajv-compiler',
    )
    expect(areaOf('file:///r/packages/server/src/store/sql-store.ts', 'x')).toBe(
      'tessera store/sql-store.ts',
    )
    expect(areaOf('', '(garbage collector)')).toBe('(garbage collector)')
    expect(areaOf('', 'writev')).toBe('(native / V8 builtins)')
  })
})
