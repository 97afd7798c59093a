import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MonotonicClock } from '../../src/lib/clock.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { SigningKeyRecord } from '../../src/store/types.js'
import { KeyManager, UndecryptableKeysError } from '../../src/tokens/signing-keys.js'
import { postForm } from '../helpers/grants.js'
import { TEST_SECRET, freePort } from '../helpers/test-server.js'
import {
  refreshForm,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from '../reliability/support.js'

/**
 * Secret rotation under load, with the server in its own process on one SQLite file:
 * 1. serving with `secret` OLD, eight refresh chains run against it;
 * 2. it restarts with `secrets: [NEW, OLD]` on the same port while the chains keep going: every
 *    chain continues (its token made under OLD is accepted, its successor is made under NEW),
 *    nobody is signed out, and access tokens issued before the restart still verify;
 * 3. the start re-encrypted the signing keys under NEW, so a restart with `secrets: [NEW]` alone
 *    starts and serves the chains (now wholly under NEW) and the old access tokens.
 */

const OLD = TEST_SECRET
const NEW = 'the-new-secret-the-new-secret-the-new-secret-0123'
const CHAINS = 8

interface Chain {
  sid: string
  latest: string
  /** An access token issued by the server running with OLD only. */
  oldAccessToken: string
  refreshes: number
}

let dir: string
let dbFile: string
let port: number
let child: ChildServer | undefined
let reader: SqliteStore
const chains: Chain[] = []
const failures: string[] = []

const url = () => {
  if (!child) throw new Error('no server')
  return child.url
}

/** Keeps refreshing `c` until `stop()`: a refused connection or a 503 (the restart) is retried
 * with the same token, as a client does; any other answer but 200 is a failure (a sign-out). */
async function refreshLoop(c: Chain, stop: () => boolean): Promise<void> {
  while (!stop()) {
    try {
      const r = await postForm(url() + '/oauth/token', refreshForm(c.latest))
      if (r.status === 200) {
        c.latest = r.body.refresh_token as string
        c.refreshes++
      } else if (r.status === 503) {
        await new Promise((res) => setTimeout(res, 20))
      } else {
        failures.push(`${c.sid}: ${r.status} ${JSON.stringify(r.body)}`)
        return
      }
    } catch {
      // The server is restarting: the connection was refused or cut.
      await new Promise((res) => setTimeout(res, 20))
    }
  }
}

/** Runs the loops until each chain has made `n` more refreshes, while `during` runs. */
async function underLoad(n: number, during: () => Promise<void>): Promise<void> {
  const start = chains.map((c) => c.refreshes)
  let done = false
  const loops = chains.map((c) => refreshLoop(c, () => done))
  try {
    await during()
    while (failures.length === 0 && chains.some((c, i) => c.refreshes - start[i]! < n)) {
      await new Promise((res) => setTimeout(res, 25))
    }
  } finally {
    done = true
    await Promise.all(loops)
  }
}

async function userinfo(token: string): Promise<number> {
  const r = await fetch(url() + '/userinfo', { headers: { authorization: `Bearer ${token}` } })
  return r.status
}

async function restart(secrets: string[]): Promise<void> {
  if (child) await stopChild(child)
  child = undefined
  child = await startChildServer({ dbFile, port, secrets })
}

function keysUnder(secrets: string[]): KeyManager {
  return new KeyManager(
    reader,
    new MonotonicClock(),
    cryptoRandom,
    secrets.map((s) => Buffer.from(s)),
    { alg: 'ES256', jwksMaxAgeSeconds: 300, maxTokenLifetimeSeconds: 3600 },
  )
}

let keysBefore: SigningKeyRecord[]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-secret-rotation-'))
  dbFile = join(dir, 'tessera.db')
  port = await freePort()
  child = await startChildServer({ dbFile, port })
  reader = new SqliteStore({ file: dbFile })
  const user = await seedUser(reader)
  for (let i = 0; i < CHAINS; i++) {
    const { form } = await storeCode(reader, user)
    const r = await postForm(url() + '/oauth/token', form)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    const latest = r.body.refresh_token as string
    chains.push({
      sid: sessionIdOf(latest),
      latest,
      oldAccessToken: r.body.access_token as string,
      refreshes: 0,
    })
  }
  keysBefore = await reader.listSigningKeys()
}, 120_000)

afterAll(async () => {
  if (child) await stopChild(child)
  await reader?.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('secret rotation: secrets [new, old] keeps every session', () => {
  it('the chains run under the old secret', async () => {
    await underLoad(3, () => Promise.resolve())
    expect(failures).toEqual([])
  }, 60_000)

  it('a restart with [NEW, OLD] under load: every chain continues, nobody is signed out', async () => {
    await underLoad(5, () => restart([NEW, OLD]))
    expect(failures).toEqual([])
    for (const c of chains) {
      const s = await reader.getSession(c.sid)
      expect(s?.state).toBe('active')
      expect(s?.reason).toBeNull()
    }
    // Access tokens from before the rotation still verify (the signing keys are the same).
    for (const c of chains) expect(await userinfo(c.oldAccessToken)).toBe(200)
    // No session was ended by the restart, and no reuse was recorded.
    expect(await reader.listEvents({ type: 'refresh_token_reuse' })).toEqual([])
  }, 120_000)

  it('the start re-encrypted every signing key under NEW (same kids and public keys)', async () => {
    const after = await reader.listSigningKeys()
    expect(after.map((k) => [k.kid, k.publicJwk])).toEqual(
      keysBefore.map((k) => [k.kid, k.publicJwk]),
    )
    for (const [i, k] of after.entries()) {
      expect(k.privateJwkEnc).not.toBe(keysBefore[i]!.privateJwkEnc)
    }
    // NEW alone opens them; OLD alone no longer does.
    const onlyNew = keysUnder([NEW])
    await onlyNew.init()
    expect(onlyNew.keysUnderOlderSecret).toBe(0)
    await expect(keysUnder([OLD]).init()).rejects.toBeInstanceOf(UndecryptableKeysError)
  })

  it('then [NEW] alone starts and serves: the chains go on, old access tokens verify', async () => {
    await underLoad(3, () => restart([NEW]))
    expect(failures).toEqual([])
    for (const c of chains) {
      expect((await reader.getSession(c.sid))?.state).toBe('active')
      expect(await userinfo(c.oldAccessToken)).toBe(200)
    }
  }, 120_000)
})
