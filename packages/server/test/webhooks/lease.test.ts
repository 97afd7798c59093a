import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { resolveWebhooks } from '../../src/config/resolve-webhooks.js'
import { FakeClock } from '../../src/lib/clock.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { WebhookDispatcher } from '../../src/webhooks/dispatcher.js'
import { sessionRecord } from '../store/records.js'
import { manualTimers, newSecret, Receiver } from './receiver.js'

/**
 * Two dispatchers on one store, driven by hand on a FakeClock: the claim (a conditional update
 * with a lease) decides who delivers; a dispatcher that dies holding a lease delays its deliveries
 * by the lease, never loses them.
 */

let dir: string
let store: SqliteStore
let rx: Receiver
const clock = new FakeClock()

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-lease-'))
  store = new SqliteStore({ file: join(dir, 'tessera.db'), synchronous: 'NORMAL' })
  await store.migrate()
  rx = await Receiver.start()
})
afterAll(async () => {
  await rx.down()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
})
beforeEach(() => {
  rx.received.length = 0
})

function dispatcher(): WebhookDispatcher {
  return new WebhookDispatcher({
    store,
    clock,
    random: cryptoRandom,
    log: pino({ level: 'silent' }),
    settings: resolveWebhooks({ endpoints: [{ url: rx.url, secret: newSecret() }] }, false),
    timers: manualTimers,
    batchSize: 4,
  })
}

async function endSessions(n: number): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const s = sessionRecord()
    await store.createSession(s)
    await store.endSession(s.id, 'revoked', 'admin', clock.now())
    ids.push(`msg_${s.id}`)
  }
  return ids
}

describe('webhook leases', () => {
  it('two dispatchers running at once deliver each of 40 events exactly once, sharing the work', async () => {
    rx.answer = () => ({ status: 204, delayMs: 5 })
    const ids = await endSessions(40)
    const [a, b] = [dispatcher(), dispatcher()]
    const done = { a: 0, b: 0 }
    const loop = async (d: WebhookDispatcher, k: 'a' | 'b') => {
      for (let idle = 0; idle < 3;) {
        const r = await d.runOnce()
        done[k] += r.delivered
        idle = r.attempted === 0 ? idle + 1 : 0
      }
    }
    await Promise.all([loop(a, 'a'), loop(b, 'b')])
    expect(rx.ids().sort()).toStrictEqual([...ids].sort())
    expect(done.a + done.b).toBe(40)
    expect(done.a).toBeGreaterThan(0)
    expect(done.b).toBeGreaterThan(0)
  })

  it('a dispatcher that dies holding a lease: the other delivers once the lease has run out', async () => {
    rx.answer = () => 204
    const [id] = await endSessions(1)
    const survivor = dispatcher()
    const endpointId = resolveWebhooks({ endpoints: [{ url: rx.url, secret: newSecret() }] }, false)
      .endpoints[0]!.id
    await store.fanOutWebhookMessages([{ endpointId, events: ['session.revoked'] }], 10)
    // The dead one claimed it (timeout 10 s + 60 s margin) and never settled.
    const [held] = await store.claimWebhookDeliveries({
      owner: 'wd_dead',
      endpointIds: [endpointId],
      now: clock.now(),
      leaseUntil: clock.now() + 70_000,
      limit: 10,
    })
    expect(held?.messageId).toBe(id)
    expect((await survivor.runOnce()).attempted).toBe(0)
    clock.advance(69_999)
    expect((await survivor.runOnce()).attempted).toBe(0)
    clock.advance(1)
    expect(await survivor.runOnce()).toMatchObject({ attempted: 1, delivered: 1 })
    expect(rx.ids()).toStrictEqual([id])
    // The dead dispatcher's late settle changes nothing.
    expect(
      await store.settleWebhookDelivery(
        held!.id,
        'wd_dead',
        {
          id: 'att_late',
          deliveryId: held!.id,
          messageId: held!.messageId,
          endpointId,
          attempt: 1,
          at: clock.now(),
          status: 204,
          error: null,
          durationMs: 1,
        },
        { result: 'delivered' },
      ),
    ).toBe(false)
  })

  it('stopping aborts an attempt under way (no wait for the timeout); it is handed back uncounted, due at once', async () => {
    rx.answer = () => 'hang'
    const [id] = await endSessions(1)
    const d = new WebhookDispatcher({
      store,
      clock,
      random: cryptoRandom,
      log: pino({ level: 'silent' }),
      // A 60 s timeout: were the attempt not aborted, stop() would outlive the test's 30 s.
      settings: resolveWebhooks(
        { timeoutSeconds: 60, endpoints: [{ url: rx.url, secret: newSecret() }] },
        false,
      ),
    })
    d.start()
    for (let i = 0; i < 300 && rx.received.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    expect(rx.ids()).toStrictEqual([id])
    await d.stop()
    const [delivery] = await store.listWebhookDeliveries({ messageId: id })
    expect(delivery).toMatchObject({
      state: 'pending',
      attempts: 0,
      leaseOwner: null,
      leaseUntil: null,
      lastStatus: null,
      lastError: 'interrupted by a server shutdown (not counted as an attempt)',
      nextAttemptAt: clock.now(),
    })
    expect(await store.listWebhookAttempts({ deliveryId: delivery!.id })).toStrictEqual([])
    // The next dispatcher takes it at once and it counts as the first attempt.
    rx.answer = () => 204
    const next = new WebhookDispatcher({
      store,
      clock,
      random: cryptoRandom,
      log: pino({ level: 'silent' }),
      settings: resolveWebhooks({ endpoints: [{ url: rx.url, secret: newSecret() }] }, false),
    })
    await next.runOnce()
    expect(await store.listWebhookDeliveries({ messageId: id })).toStrictEqual([])
    expect(rx.ids()).toStrictEqual([id, id])
  })
})
