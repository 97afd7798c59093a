import { existsSync, readFileSync } from 'node:fs'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postForm, signInTokens } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { sidOf } from '../token/fixtures.js'

/**
 * The README's promise for SQLite: concurrent rotations share one commit (group commit), and
 * nobody is answered before the commit that holds their rotation. Commits are counted in the
 * write-ahead log itself: every commit ends with a frame whose header carries the database size
 * (SQLite file format, "WAL frame header", bytes 4-7); other frames carry 0.
 */

const N = 40

let t: TestServer
let reader: BetterSqlite3.Database
beforeAll(async () => {
  t = await startTestServer({ config: { maintenanceIntervalSeconds: 0 } })
  reader = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
})
afterAll(async () => {
  reader.close()
  await t.close()
})

/** Commit frames of the current WAL generation (frames whose salts match the WAL header's). */
function walCommits(): number {
  const file = t.dbFile + '-wal'
  if (!existsSync(file)) return 0
  const b = readFileSync(file)
  if (b.length < 32) return 0
  const pageSize = b.readUInt32BE(8)
  const [salt1, salt2] = [b.readUInt32BE(16), b.readUInt32BE(20)]
  let commits = 0
  for (let off = 32; off + 24 + pageSize <= b.length; off += 24 + pageSize) {
    if (b.readUInt32BE(off + 8) !== salt1 || b.readUInt32BE(off + 12) !== salt2) break
    if (b.readUInt32BE(off + 4) !== 0) commits++
  }
  return commits
}

const generationOf = (sid: string) =>
  (
    reader.prepare('select generation from sessions where id = ?').get(sid) as {
      generation: number
    }
  ).generation

describe('SQLite group commit', () => {
  it(`${N} concurrent refreshes of ${N} sessions share commits; each is answered only once its rotation is committed`, async () => {
    const alice = await t.createUser()
    const rounds: number[] = []
    // The sharing depends on requests arriving together, so a round that happened not to overlap
    // is counted and another round runs; the test fails if no round ever shared a commit.
    for (let round = 0; round < 5 && !rounds.some((c) => c < N); round++) {
      const tokens: string[] = []
      for (let i = 0; i < N; i++) {
        const s = await signInTokens(t, alice, { scope: 'openid offline_access' })
        expect(s.status).toBe(200)
        tokens.push(s.body.refresh_token as string)
      }
      // An empty log: every commit frame from here on is one of the refreshes.
      const cp = new BetterSqlite3(t.dbFile)
      expect(cp.pragma('wal_checkpoint(TRUNCATE)', { simple: false })).toEqual([
        { busy: 0, log: 0, checkpointed: 0 },
      ])
      cp.close()
      expect(walCommits()).toBe(0)

      const committedWhenAnswered: number[] = []
      const results = await Promise.all(
        tokens.map((rt) =>
          postForm(t.url + '/oauth/token', {
            grant_type: 'refresh_token',
            refresh_token: rt,
            client_id: 'web-app',
          }).then((r) => {
            // Read through another connection the moment the answer arrives.
            committedWhenAnswered.push(generationOf(sidOf(rt)))
            return r.status
          }),
        ),
      )
      expect(results).toEqual(Array.from({ length: N }, () => 200))
      expect(committedWhenAnswered).toEqual(Array.from({ length: N }, () => 1))
      const commits = walCommits()
      expect(commits).toBeGreaterThanOrEqual(1)
      expect(commits).toBeLessThanOrEqual(N)
      rounds.push(commits)
    }
    expect(
      rounds.some((c) => c < N),
      `commits per round of ${N}: ${rounds.join(', ')}`,
    ).toBe(true)
  })
})
