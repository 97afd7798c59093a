import BetterSqlite3 from 'better-sqlite3'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMaintenance } from '../../src/sessions/maintenance.js'
import { mintCode, signInTokens } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { manualTimers, newSecret } from '../webhooks/receiver.js'

/**
 * The README's promise: the maintenance pass deletes old codes, throttle windows, webhook records
 * and DPoP proof records, each at its own horizon, decided by the server's clock, and nothing
 * younger. Each horizon is checked 1 ms before and at the moment a record becomes deletable.
 */

const DAY = 86_400_000

let t: TestServer
let t0: number
beforeAll(async () => {
  // An endpoint (never polled: manual timers), so ending a session writes its outbox message.
  t = await startTestServer({
    config: {
      maintenanceIntervalSeconds: 0,
      webhooks: { endpoints: [{ url: 'http://127.0.0.1:9/hook', secret: newSecret() }] },
    },
    timers: manualTimers,
  })
  t0 = t.clock.now()
  expect(t0 % 60_000).toBe(0)
  const alice = await t.createUser()
  await mintCode(t, alice, { ttlSeconds: 60 }) // expires at t0 + 60 s
  await t.store.throttleHit('signin-ip:192.0.2.1', t0, 60) // window starts at t0
  await t.store.useDpopProof('proof-jti', t0, t0 + 60_000)
  // Ending a session writes its webhook message (the outbox), dated t0.
  const s = await signInTokens(t, alice)
  const sid = decodeJwt(s.body.access_token).sid as string
  expect(await t.store.endSession(sid, 'revoked', 'admin', t0)).toBe(true)
})
afterAll(async () => {
  await t.close()
})

function rows(): Record<string, number> {
  const db = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
  try {
    const n = (table: string) =>
      (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n
    return {
      codes: n('authorization_codes'),
      throttle: n('throttle'),
      webhookMessages: n('webhook_messages'),
      dpopProofs: n('dpop_proofs'),
    }
  } finally {
    db.close()
  }
}

async function passAt(at: number) {
  t.clock.set(at)
  const r = await runMaintenance(t.server.ctx)
  return {
    codes: r.codesDeleted,
    throttle: r.throttleDeleted,
    webhooks: r.webhookRecordsDeleted,
    dpop: r.dpopProofsDeleted,
  }
}

const none = { codes: 0, throttle: 0, webhooks: 0, dpop: 0 }

describe('the maintenance pass deletes what has outlived its use, by the server clock', () => {
  it('nothing is deleted while it may still be needed', async () => {
    // Two codes: the minted one and the one signInTokens redeemed.
    expect(rows()).toEqual({ codes: 2, throttle: 1, webhookMessages: 1, dpopProofs: 1 })
    expect(await passAt(t0)).toEqual(none)
  })

  it('a DPoP proof record goes when its replay window has passed', async () => {
    expect(await passAt(t0 + 60_000 - 1)).toEqual(none)
    expect(await passAt(t0 + 60_000)).toEqual({ ...none, dpop: 1 })
    expect(rows().dpopProofs).toBe(0)
  })

  it('a throttle window and an outbox message go a day later (the longest window; retryForSeconds)', async () => {
    expect(await passAt(t0 + DAY)).toEqual(none)
    expect(await passAt(t0 + DAY + 1)).toEqual({ ...none, throttle: 1, webhooks: 1 })
    expect(rows()).toMatchObject({ throttle: 0, webhookMessages: 0 })
  })

  it('codes go a day after their expiry (a consumed code is kept to recognise a replay until then)', async () => {
    const expiry = t0 + 60_000
    expect(await passAt(expiry + DAY)).toEqual(none)
    expect(rows().codes).toBe(2)
    expect(await passAt(expiry + DAY + 1)).toEqual({ ...none, codes: 2 })
    expect(rows().codes).toBe(0)
  })
})
