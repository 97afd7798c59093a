import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { postForm } from '../helpers/grants.js'
import { freePort } from '../helpers/test-server.js'
import {
  generationOf,
  refreshForm,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from './support.js'

/**
 * REL-05: the server process dies (kill -9) after a rotation has committed and before its response
 * leaves. The client never saw the child token, so it retries with the parent once the server is
 * back on the same SQLite file. Inside the grace window that retry must return the child that was
 * committed (no second branch, no reuse verdict); after the window the same retry is reuse.
 *
 * The crash comes from the fixture's store (fixtures/server.ts), whose rotateRefresh calls the real
 * one and then SIGKILLs its own process: the commit is durable (synchronous FULL), the response is
 * never written. The servers run on the real clock; the grace window is set through configuration.
 */

/** Grace windows: long for the crashed session, one second for the after-window control. */
const graceSeconds = { 'web-app': 120, 'other-app': 1 }

let dir: string
let dbFile: string
let child: ChildServer | undefined
let reader: SqliteStore
/** web-app: its rotation committed, then the process died before answering. */
let crashed: { rt0: string; sid: string }
/** other-app: rotated just before the crash, its answer dropped by the client (a lost response). */
let lost: { rt0: string; sid: string }

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-rel05-'))
  dbFile = join(dir, 'tessera.db')
  const port = await freePort()
  child = await startChildServer({ dbFile, port, graceSeconds, killAfterRotateOf: 'web-app' })
  reader = new SqliteStore({ file: dbFile })
  const user = await seedUser(reader)
  const signIn = async (clientId: string) => {
    const { form } = await storeCode(reader, user, clientId)
    const r = await postForm(child!.url + '/oauth/token', form)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const rt0 = r.body.refresh_token as string
    return { rt0, sid: sessionIdOf(rt0) }
  }
  crashed = await signIn('web-app')
  lost = await signIn('other-app')

  const other = await postForm(child.url + '/oauth/token', refreshForm(lost.rt0, 'other-app'))
  expect(other.status).toBe(200)
  // The rotation commits, then the process is killed: this request gets no response at all.
  await expect(postForm(child.url + '/oauth/token', refreshForm(crashed.rt0))).rejects.toThrow()
  expect((await child.exited).signal).toBe('SIGKILL')

  for (const { sid } of [crashed, lost]) {
    const s = (await reader.getSession(sid))!
    expect([s.state, s.generation, s.graceUses]).toStrictEqual(['active', 1, 0])
  }
  child = await startChildServer({ dbFile, port, graceSeconds })
})

afterAll(async () => {
  if (child) await stopChild(child)
  await reader.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('REL-05 kill -9 between the commit of a rotation and its response', () => {
  it('REL-05 after restart, the retry with the parent inside the grace window returns the committed child', async () => {
    const { rt0, sid } = crashed
    const retry = await postForm(child!.url + '/oauth/token', refreshForm(rt0))
    expect(retry.status, JSON.stringify(retry.body)).toBe(200)
    const rt1 = retry.body.refresh_token as string
    expect([sessionIdOf(rt1), generationOf(rt1)]).toStrictEqual([sid, 1])
    expect(typeof retry.body.access_token).toBe('string')

    // No second branch: still generation 1; the retry counted as one grace replay, not as reuse.
    const after = (await reader.getSession(sid))!
    expect([after.state, after.generation, after.graceUses]).toStrictEqual(['active', 1, 1])
    expect(await reader.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toEqual([])

    // The child carries on normally.
    const next = await postForm(child!.url + '/oauth/token', refreshForm(rt1))
    expect(next.status).toBe(200)
    expect(generationOf(next.body.refresh_token as string)).toBe(2)
  })

  it('REL-05 control: after restart, a parent retried after its grace window is reuse and revokes the session', async () => {
    const { rt0, sid } = lost
    const { rotatedAt } = (await reader.getSession(sid))!
    const wait = rotatedAt + 1_100 - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    const retry = await postForm(child!.url + '/oauth/token', refreshForm(rt0, 'other-app'))
    expect(retry.status).toBe(400)
    expect(retry.body.error).toBe('invalid_grant')
    const after = (await reader.getSession(sid))!
    expect([after.state, after.reason, after.generation]).toStrictEqual([
      'revoked',
      'refresh_token_reuse',
      1,
    ])
    const events = await reader.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(events.map((e) => e.data.cause)).toStrictEqual(['after_grace_window'])
  })
})
