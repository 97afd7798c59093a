import { decodeProtectedHeader } from 'jose'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MonotonicClock } from '../../src/lib/clock.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { SessionRecord, SigningKeyRecord } from '../../src/store/types.js'
import { KeyManager } from '../../src/tokens/signing-keys.js'
import { postForm } from '../helpers/grants.js'
import { TEST_SECRET, freePort } from '../helpers/test-server.js'
import {
  generationOf,
  kill9,
  refreshForm,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from './support.js'

/**
 * REL-06: the server process is killed (kill -9) while it serves a stream of refreshes and code
 * redemptions, then restarted on the same SQLite file (synchronous FULL). Afterwards:
 * - every session and refresh family committed before the crash is there, and the last refresh
 *   token each client received still works (its rotation, or the one in flight, was durable);
 * - every code redeemed under load is consumed if and only if its session row exists;
 * - the signing keys are the same rows, and access tokens signed before the crash still verify;
 * - no token revoked before the crash (by /oauth/revoke or by reuse detection) is valid after it.
 */

const LIVE = 12
const CODES = 24
/** Successful refreshes under load before the kill. */
const KILL_AFTER = 30

interface Family {
  sid: string
  /** The last refresh token the client received. */
  latest: string
  accessToken: string
}

let dir: string
let dbFile: string
let child: ChildServer | undefined
let reader: SqliteStore
const live: Family[] = []
const revoked: (Family & { reason: string })[] = []
const revokedRows = new Map<string, SessionRecord>()
const codes: { codeHash: string; sid: string | undefined }[] = []
let keysBefore: SigningKeyRecord[]
let refreshesUnderLoad = 0
const unexpected: string[] = []

const tokenUrl = () => child!.url + '/oauth/token'

/** Does the server take this access token (for the issuer: web-app is public, so nobody may
 * introspect its tokens, SES-12)? Userinfo answers 200 or 401 invalid_token. */
async function introspect(token: string): Promise<boolean> {
  const r = await fetch(child!.url + '/userinfo', { headers: { authorization: `Bearer ${token}` } })
  expect([200, 401]).toContain(r.status)
  return r.status === 200
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-rel06-'))
  dbFile = join(dir, 'tessera.db')
  const port = await freePort()
  const graceSeconds = { 'web-app': 120 }
  child = await startChildServer({ dbFile, port, graceSeconds })
  reader = new SqliteStore({ file: dbFile })
  const user = await seedUser(reader)

  // A second signing key, published but not yet signing, so there is more than one row to keep.
  const keys = new KeyManager(
    reader,
    new MonotonicClock(),
    cryptoRandom,
    Buffer.from(TEST_SECRET),
    {
      alg: 'ES256',
      jwksMaxAgeSeconds: 300,
      maxTokenLifetimeSeconds: 3600,
    },
  )
  await keys.init()
  await keys.rotate()
  keysBefore = await reader.listSigningKeys()
  expect(keysBefore).toHaveLength(2)

  const signIn = async (): Promise<Family> => {
    const { form } = await storeCode(reader, user)
    const r = await postForm(tokenUrl(), form)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const latest = r.body.refresh_token as string
    return { sid: sessionIdOf(latest), latest, accessToken: r.body.access_token as string }
  }
  for (let i = 0; i < LIVE; i++) live.push(await signIn())

  // Revoked before the crash: two through RFC 7009 revocation, two through reuse detection.
  for (let i = 0; i < 2; i++) {
    const f = await signIn()
    const r = await postForm(child.url + '/oauth/revoke', { token: f.latest, client_id: 'web-app' })
    expect(r.status).toBe(200)
    revoked.push({ ...f, reason: 'token_revocation' })
  }
  for (let i = 0; i < 2; i++) {
    const f = await signIn()
    const rt0 = f.latest
    const rt1 = (await postForm(tokenUrl(), refreshForm(rt0))).body.refresh_token as string
    const rt2 = (await postForm(tokenUrl(), refreshForm(rt1))).body.refresh_token as string
    const reuse = await postForm(tokenUrl(), refreshForm(rt0))
    expect(reuse.status).toBe(400)
    revoked.push({ ...f, latest: rt2, reason: 'refresh_token_reuse' })
  }
  for (const f of revoked) revokedRows.set(f.sid, (await reader.getSession(f.sid))!)

  const pendingCodes: Awaited<ReturnType<typeof storeCode>>[] = []
  for (let i = 0; i < CODES; i++) pendingCodes.push(await storeCode(reader, user))

  // Load: one refresh loop per live family, two loops redeeming codes, until the kill.
  let killed = false
  let stop = false
  const failed = (what: string, e: unknown) => {
    if (!killed) unexpected.push(`${what}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const refreshLoops = live.map(async (f) => {
    while (!stop) {
      try {
        const r = await postForm(tokenUrl(), refreshForm(f.latest))
        if (r.status !== 200) unexpected.push(`refresh answered ${r.status}`)
        f.latest = r.body.refresh_token as string
        refreshesUnderLoad++
      } catch (e) {
        failed('refresh', e)
        return
      }
    }
  })
  const codeLoops = [0, 1].map(async (k) => {
    for (let i = k; i < CODES && !stop; i += 2) {
      const c = pendingCodes[i]!
      const entry: (typeof codes)[number] = { codeHash: c.codeHash, sid: undefined }
      codes.push(entry)
      try {
        const r = await postForm(tokenUrl(), c.form)
        if (r.status !== 200) unexpected.push(`redemption answered ${r.status}`)
        entry.sid = sessionIdOf(r.body.refresh_token as string)
      } catch (e) {
        failed('redemption', e)
        return
      }
    }
  })
  const deadline = Date.now() + 20_000
  // Kill only once both kinds of work have had answers, so every invariant below has cases.
  const loaded = () => refreshesUnderLoad >= KILL_AFTER && codes.some((c) => c.sid !== undefined)
  while (!loaded() && Date.now() < deadline && unexpected.length === 0) {
    await new Promise((r) => setTimeout(r, 5))
  }
  killed = true
  await kill9(child)
  stop = true
  await Promise.all([...refreshLoops, ...codeLoops])
  expect((await child.exited).signal).toBe('SIGKILL')

  child = await startChildServer({ dbFile, port, graceSeconds })
}, 120_000)

afterAll(async () => {
  if (child) await stopChild(child)
  await reader.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('REL-06 kill -9 under load, then restart on the same database', () => {
  it('REL-06 the load ran cleanly until the kill', () => {
    expect(unexpected).toStrictEqual([])
    expect(refreshesUnderLoad).toBeGreaterThanOrEqual(KILL_AFTER)
  })

  it('REL-06 every committed family is intact: the last token each client received still refreshes', async () => {
    for (const f of live) {
      const s = (await reader.getSession(f.sid))!
      const received = generationOf(f.latest)
      expect(s.state).toBe('active')
      // Durable: the rotation that produced `latest` is there; at most the one in flight is added.
      expect([received, received + 1]).toContain(s.generation)
      const r = await postForm(tokenUrl(), refreshForm(f.latest))
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      // Current token: a rotation. Parent of a rotation whose answer was lost: the same child.
      const expected = s.generation === received ? received + 1 : s.generation
      expect(generationOf(r.body.refresh_token as string)).toBe(expected)
    }
  })

  it('REL-06 each code redeemed under load is consumed if and only if its session exists', async () => {
    expect(codes.length).toBeGreaterThan(0)
    let answered = 0
    for (const c of codes) {
      const rec = (await reader.getCode(c.codeHash))!
      if (c.sid !== undefined) {
        answered++
        expect(rec.sessionId).toBe(c.sid)
      }
      if (rec.consumedAt === null) {
        expect(rec.sessionId).toBeNull()
      } else {
        const s = await reader.getSession(rec.sessionId!)
        expect(s?.state).toBe('active')
      }
    }
    expect(answered).toBeGreaterThan(0)
  })

  it('REL-06 signing keys survive intact and access tokens signed before the crash still verify', async () => {
    expect(await reader.listSigningKeys()).toStrictEqual(keysBefore)
    const jwks = (await (await fetch(child!.url + '/.well-known/jwks.json')).json()) as {
      keys: { kid: string }[]
    }
    expect(jwks.keys.map((k) => k.kid).sort()).toStrictEqual(keysBefore.map((k) => k.kid).sort())
    for (const f of live) {
      expect(keysBefore.map((k) => k.kid)).toContain(decodeProtectedHeader(f.accessToken).kid)
      expect(await introspect(f.accessToken)).toBe(true)
    }
  })

  it('REL-06 no token revoked before the crash is valid after the restart', async () => {
    for (const f of revoked) {
      const s = (await reader.getSession(f.sid))!
      expect(s).toStrictEqual(revokedRows.get(f.sid))
      expect([s.state, s.reason]).toStrictEqual(['revoked', f.reason])
      const r = await postForm(tokenUrl(), refreshForm(f.latest))
      expect(r.status).toBe(400)
      expect(r.body.error).toBe('invalid_grant')
      expect(await introspect(f.accessToken)).toBe(false)
    }
    const reuseEvents = await reader.listEvents({ type: 'refresh_token_reuse' })
    const reuseSids = revoked.filter((f) => f.reason === 'refresh_token_reuse').map((f) => f.sid)
    expect(reuseEvents.map((e) => e.sessionId).sort()).toStrictEqual(reuseSids.sort())
  })
})
