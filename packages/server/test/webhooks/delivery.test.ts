import { verifyWebhook } from '@tessera/verify'
import { Webhook } from 'standardwebhooks'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runMaintenance } from '../../src/sessions/maintenance.js'
import type { UserRecord } from '../../src/store/types.js'
import { endpointId } from '../../src/config/resolve-webhooks.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import { defaultClients, startTestServer, type TestServer } from '../helpers/test-server.js'
import { manualTimers, newSecret, Receiver, type Received } from './receiver.js'

/**
 * Webhook delivery end to end: sessions end through the real endpoints (revocation, refresh token
 * reuse, the maintenance sweep), the dispatcher POSTs to a real receiver on 127.0.0.1, and time is
 * the test's FakeClock: the dispatcher's timers never fire by themselves, each test drives it with
 * runOnce() and moves the clock to the retry times the outbox holds.
 */

const SECRET = newSecret()
const REUSE_SECRET = newSecret()

let t: TestServer
let rx: Receiver
/** A second endpoint that subscribes to reuse alerts only. */
let reuseRx: Receiver
let alice: UserRecord

beforeAll(async () => {
  rx = await Receiver.start()
  reuseRx = await Receiver.start()
  t = await startTestServer({
    timers: manualTimers,
    clients: [
      ...defaultClients,
      {
        // idle 10 minutes, absolute 30 minutes: the sweep test's sessions
        id: 'short-app',
        redirectUris: ['https://short.example.test/callback'],
        scopes: ['openid', 'offline_access'],
        sessionIdleSeconds: 600,
        sessionAbsoluteSeconds: 1800,
      },
    ],
    config: {
      webhooks: {
        timeoutSeconds: 1,
        retryForSeconds: 3600,
        endpoints: [
          { url: rx.url, secret: SECRET },
          { url: reuseRx.url, secret: REUSE_SECRET, events: ['session.reuse_detected'] },
        ],
      },
    },
  })
  alice = await t.createUser('alice')
})

afterAll(async () => {
  await t.close()
  await rx.down()
  await reuseRx.down()
})

beforeEach(async () => {
  await drain()
  rx.received.length = 0
  reuseRx.received.length = 0
  rx.answer = () => 204
})

const dispatcher = () => {
  const d = t.server.webhooks
  if (!d) throw new Error('no webhook dispatcher')
  return d
}

/** Runs passes until nothing is due now. */
async function drain(): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await dispatcher().runOnce()
    if (r.attempted === 0 && r.fannedOut === 0) return
  }
  throw new Error('the outbox did not drain')
}

async function signIn(clientId = 'web-app') {
  const r = await signInTokens(t, alice, { clientId, scope: 'openid offline_access' })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return r.body as { refresh_token: string; access_token: string; id_token: string }
}

const sidOf = (rt: string): string => /^tsr_([^.]+)\./.exec(rt)![1]!

async function revoke(rt: string, clientId = 'web-app'): Promise<void> {
  const r = await postForm(`${t.url}/oauth/revoke`, { token: rt, client_id: clientId })
  expect(r.status).toBe(200)
}

const verify = (r: Received, secret = SECRET) =>
  verifyWebhook(r.body, r.headers, { secret, clock: t.clock })

describe('webhooks: signed events from real session ends', () => {
  it('a revoked session is POSTed once, signed; verifyWebhook and the reference library verify it', async () => {
    const tokens = await signIn()
    const sid = sidOf(tokens.refresh_token)
    await revoke(tokens.refresh_token)
    expect(rx.received).toStrictEqual([])

    const r = await dispatcher().runOnce()
    expect(r).toStrictEqual({ fannedOut: 1, attempted: 1, delivered: 1 })
    expect(rx.received).toHaveLength(1)
    const got = rx.received[0]!
    expect(got.headers['content-type']).toBe('application/json')
    expect(got.headers['user-agent']).toBe('Tessera-Webhooks/1')
    expect(got.id).toBe(`msg_${sid}`)
    expect(got.timestamp).toBe(String(Math.floor(t.clock.now() / 1000)))
    expect(got.signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/)

    const verified = await verify(got)
    const now = new Date(t.clock.now()).toISOString()
    expect(verified).toStrictEqual({
      id: `msg_${sid}`,
      timestamp: Math.floor(t.clock.now() / 1000),
      event: {
        id: `msg_${sid}`,
        type: 'session.revoked',
        timestamp: now,
        data: {
          session_id: sid,
          user_id: alice.id,
          client_id: 'web-app',
          state: 'revoked',
          reason: 'token_revocation',
          ended_at: now,
        },
      },
    })
    // An independent Standard Webhooks implementation agrees (it checks time against Date.now,
    // so it gets a fresh signature of the same message made the way the server makes it).
    const wh = new Webhook(SECRET)
    const nowS = Math.floor(Date.now() / 1000)
    const { signWebhook } = await import('../../src/webhooks/signature.js')
    const key = Buffer.from(SECRET.slice(6), 'base64')
    expect(
      wh.verify(got.body, {
        'webhook-id': got.id,
        'webhook-timestamp': String(nowS),
        'webhook-signature': signWebhook([key], got.id, nowS, got.body),
      }),
    ).toStrictEqual(JSON.parse(got.body))
    expect(wh.sign(got.id, new Date(Number(got.timestamp) * 1000), got.body)).toBe(got.signature)

    // Tampering with the body or the timestamp breaks the signature.
    await expect(
      verify({ ...got, body: got.body.replace('token_revocation', 'sign_out') }),
    ).rejects.toMatchObject({ code: 'webhook_signature_invalid' })
    await expect(
      verify({
        ...got,
        headers: { ...got.headers, 'webhook-timestamp': String(Number(got.timestamp) - 1) },
      }),
    ).rejects.toMatchObject({ code: 'webhook_signature_invalid' })

    // No token of any kind travels in a webhook.
    for (const secret of [tokens.refresh_token, tokens.access_token, tokens.id_token]) {
      expect(got.body).not.toContain(secret)
    }
    expect(got.body).not.toMatch(/tsr_|eyJ/)
    // Delivered: the outbox is empty and the attempt is on record.
    expect(await t.store.listWebhookDeliveries({})).toStrictEqual([])
    const [attempt] = await t.store.listWebhookAttempts({
      deliveryId: `${endpointId(rx.url)}/msg_${sid}`,
    })
    expect(attempt).toMatchObject({ attempt: 1, status: 204, error: null })
    // The reuse-only endpoint got nothing.
    expect(reuseRx.received).toStrictEqual([])
  })

  it('refresh token reuse sends session.revoked, and session.reuse_detected to both subscribers', async () => {
    const tokens = await signIn()
    const sid = sidOf(tokens.refresh_token)
    const form = { grant_type: 'refresh_token', client_id: 'web-app' }
    const r1 = await postForm(`${t.url}/oauth/token`, {
      ...form,
      refresh_token: tokens.refresh_token,
    })
    expect(r1.status).toBe(200)
    t.clock.advance(31_000)
    const r2 = await postForm(`${t.url}/oauth/token`, {
      ...form,
      refresh_token: tokens.refresh_token,
    })
    expect(r2.body.error).toBe('invalid_grant')

    await drain()
    const types = await Promise.all(
      rx.received.map(async (r) => ((await verify(r)).event as { type: string }).type),
    )
    expect(types.sort()).toStrictEqual(['session.reuse_detected', 'session.revoked'])
    expect(rx.ids().sort()).toStrictEqual([`msg_${sid}`, `msg_${sid}_reuse`])
    expect(reuseRx.ids()).toStrictEqual([`msg_${sid}_reuse`])
    const alert = await verify(reuseRx.received[0]!, REUSE_SECRET)
    expect(alert.event).toMatchObject({
      type: 'session.reuse_detected',
      data: { session_id: sid, state: 'revoked', reason: 'refresh_token_reuse' },
    })
    // A signature made with the other endpoint's secret does not verify here.
    await expect(verify(reuseRx.received[0]!, SECRET)).rejects.toMatchObject({
      code: 'webhook_signature_invalid',
    })
  })

  it('the maintenance sweep records one event per ended session and sends session.abandoned / session.expired', async () => {
    const start = t.clock.now()
    const idle = await signIn('short-app')
    const busy = await signIn('short-app')
    let rt = busy.refresh_token
    for (const at of [500, 1000, 1500]) {
      t.clock.set(start + at * 1000)
      const r = await postForm(`${t.url}/oauth/token`, {
        grant_type: 'refresh_token',
        client_id: 'short-app',
        refresh_token: rt,
      })
      expect(r.status).toBe(200)
      rt = r.body.refresh_token
    }
    t.clock.set(start + 1801_000)
    const swept = await runMaintenance(t.server.ctx)
    expect([swept.expired, swept.abandoned]).toStrictEqual([1, 1])

    const [idleSid, busySid] = [sidOf(idle.refresh_token), sidOf(busy.refresh_token)]
    const events = async (sessionId: string) =>
      (await t.store.listEvents({ sessionId })).map((e) => [e.type, e.data])
    expect(await events(idleSid)).toStrictEqual([
      [
        'session_abandoned',
        { reason: 'idle_timeout', endedAt: start + 600_000, by: 'maintenance' },
      ],
    ])
    expect((await events(busySid))[0]).toStrictEqual([
      'session_expired',
      { reason: 'absolute_lifetime', endedAt: start + 1800_000, by: 'maintenance' },
    ])

    await drain()
    const got = await Promise.all(rx.received.map((r) => verify(r)))
    const byId = new Map(got.map((g) => [g.id, g.event as { type: string; data: object }]))
    expect(byId.get(`msg_${idleSid}`)).toMatchObject({
      type: 'session.abandoned',
      data: { reason: 'idle_timeout', ended_at: new Date(start + 600_000).toISOString() },
    })
    expect(byId.get(`msg_${busySid}`)).toMatchObject({
      type: 'session.expired',
      data: { reason: 'absolute_lifetime', ended_at: new Date(start + 1800_000).toISOString() },
    })
    expect(rx.received).toHaveLength(2)
  })
})

describe('webhooks: retries', () => {
  /** Moves the clock to the delivery's next attempt, checking nothing goes a millisecond early. */
  async function untilNextAttempt(messageId: string): Promise<number> {
    const [d] = await t.store.listWebhookDeliveries({ messageId })
    expect(d?.state).toBe('pending')
    const wait = d!.nextAttemptAt - t.clock.now()
    t.clock.advance(wait - 1)
    expect((await dispatcher().runOnce()).attempted).toBe(0)
    t.clock.advance(1)
    return wait
  }

  it('a receiver failing the first 3 attempts gets retries with growing, jittered delays, then the event', async () => {
    rx.answer = (r) => (r.n <= 3 ? 500 : 204)
    const tokens = await signIn()
    const msg = `msg_${sidOf(tokens.refresh_token)}`
    await revoke(tokens.refresh_token)
    await dispatcher().runOnce()
    const waits: number[] = []
    for (let i = 0; i < 3; i++) {
      waits.push(await untilNextAttempt(msg))
      await dispatcher().runOnce()
    }
    // Attempt k fails, then waits in [2.5 s, 5 s) * 2^(k-1): the ranges do not overlap.
    waits.forEach((w, k) => {
      const interval = 5000 * 2 ** k
      expect(w).toBeGreaterThanOrEqual(interval / 2)
      expect(w).toBeLessThan(interval)
    })
    expect(waits[1]!).toBeGreaterThan(waits[0]!)
    expect(waits[2]!).toBeGreaterThan(waits[1]!)

    expect(rx.ids()).toStrictEqual([msg, msg, msg, msg])
    const bodies = new Set(rx.received.map((r) => r.body))
    expect(bodies.size).toBe(1)
    for (const r of rx.received) expect((await verify(r)).id).toBe(msg)
    const stamps = rx.received.map((r) => Number(r.timestamp))
    expect([...stamps].sort((a, b) => a - b)).toStrictEqual(stamps)
    expect(new Set(stamps).size).toBe(4)

    const attempts = await t.store.listWebhookAttempts({
      deliveryId: `${endpointId(rx.url)}/${msg}`,
    })
    expect(attempts.map((a) => [a.attempt, a.status, a.error])).toStrictEqual([
      [1, 500, 'HTTP 500'],
      [2, 500, 'HTTP 500'],
      [3, 500, 'HTTP 500'],
      [4, 204, null],
    ])
    expect(await t.store.listWebhookDeliveries({ messageId: msg })).toStrictEqual([])
  })

  it('after the retry horizon the delivery is marked failed and never attempted again', async () => {
    rx.answer = () => 500
    const tokens = await signIn()
    const msg = `msg_${sidOf(tokens.refresh_token)}`
    const created = t.clock.now()
    await revoke(tokens.refresh_token)
    await dispatcher().runOnce()
    for (let i = 0; i < 100; i++) {
      const [d] = await t.store.listWebhookDeliveries({ messageId: msg })
      if (d?.state === 'failed') break
      t.clock.set(d!.nextAttemptAt)
      await dispatcher().runOnce()
    }
    const [d] = await t.store.listWebhookDeliveries({ messageId: msg })
    expect(d).toMatchObject({ state: 'failed', lastStatus: 500, lastError: 'HTTP 500' })
    expect(d!.attempts).toBe(rx.received.length)
    // 5 s doubling up to the one-hour horizon: 9 to 11 attempts, the last inside the horizon.
    expect(rx.received.length).toBeGreaterThanOrEqual(9)
    expect(rx.received.length).toBeLessThanOrEqual(11)
    expect(d!.lastAttemptAt!).toBeLessThanOrEqual(created + 3600_000)

    const before = rx.received.length
    t.clock.advance(86_400_000)
    await drain()
    expect(rx.received).toHaveLength(before)
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    expect(metrics).toMatch(/^tessera_webhook_deliveries_total\{result="failed"\} [1-9]/m)
  })

  it('410 Gone fails that delivery at once; later events are still sent', async () => {
    rx.answer = (r) => (r.n === 1 ? 410 : 204)
    const first = await signIn()
    await revoke(first.refresh_token)
    await dispatcher().runOnce()
    const msg = `msg_${sidOf(first.refresh_token)}`
    expect(await t.store.listWebhookDeliveries({ messageId: msg })).toMatchObject([
      { state: 'failed', attempts: 1, lastStatus: 410, lastError: 'HTTP 410' },
    ])
    const second = await signIn()
    await revoke(second.refresh_token)
    await drain()
    expect(rx.ids()).toStrictEqual([msg, `msg_${sidOf(second.refresh_token)}`])
  })

  it('Retry-After on a 503 is honoured (capped), over a shorter backoff', async () => {
    rx.answer = (r) => (r.n === 1 ? { status: 503, headers: { 'retry-after': '120' } } : 204)
    const tokens = await signIn()
    const msg = `msg_${sidOf(tokens.refresh_token)}`
    await revoke(tokens.refresh_token)
    await dispatcher().runOnce()
    expect(await untilNextAttempt(msg)).toBe(120_000)
    await dispatcher().runOnce()
    expect(rx.ids()).toStrictEqual([msg, msg])
  })

  it('a receiver that is down gets every event once when it comes back', async () => {
    await rx.down()
    const sids: string[] = []
    for (let i = 0; i < 5; i++) {
      const tokens = await signIn()
      sids.push(sidOf(tokens.refresh_token))
      await revoke(tokens.refresh_token)
    }
    expect(await dispatcher().runOnce()).toMatchObject({ attempted: 5, delivered: 0 })
    const pending = await t.store.listWebhookDeliveries({
      endpointId: endpointId(rx.url),
      state: 'pending',
    })
    expect(pending.map((d) => [d.attempts, d.lastStatus, d.lastError])).toStrictEqual(
      sids.map(() => [1, null, 'connection failed (ECONNREFUSED)']),
    )
    await rx.up()
    t.clock.advance(5_000)
    await drain()
    expect(rx.ids().sort()).toStrictEqual(sids.map((s) => `msg_${s}`).sort())
    for (const r of rx.received) expect((await verify(r)).id).toBe(r.id)
    expect(
      await t.store.listWebhookDeliveries({ endpointId: endpointId(rx.url), state: 'pending' }),
    ).toStrictEqual([])
  })

  it('an attempt without an answer within timeoutSeconds is retried', async () => {
    rx.answer = (r) => (r.n === 1 ? 'hang' : 204)
    const tokens = await signIn()
    const msg = `msg_${sidOf(tokens.refresh_token)}`
    await revoke(tokens.refresh_token)
    expect(await dispatcher().runOnce()).toMatchObject({ attempted: 1, delivered: 0 })
    expect(await t.store.listWebhookDeliveries({ messageId: msg })).toMatchObject([
      { attempts: 1, lastStatus: null, lastError: 'no response within 1 s' },
    ])
    await untilNextAttempt(msg)
    expect(await dispatcher().runOnce()).toMatchObject({ attempted: 1, delivered: 1 })
    expect(rx.ids()).toStrictEqual([msg, msg])
  })
})
