import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MonotonicClock } from '../../src/lib/clock.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm, codeForm } from '../helpers/grants.js'
import { defaultClients, startTestServer, type TestServer } from '../helpers/test-server.js'
import { refreshForm, sessionIdOf } from './support.js'
import { isActive } from '../token/fixtures.js'

/**
 * REL-10: the machine's clock steps backwards. The server reads time only through its one clock, a
 * MonotonicClock over the wall clock, which holds still through a backward step instead of going
 * back. So an expiry the server has already reached is not undone, and no timeout (idle, absolute,
 * grace window, code and access-token lifetimes) gets longer because the wall clock went back.
 *
 * The server runs on the clock createTesseraServer builds itself when given none (the production
 * default, checked to be a MonotonicClock); what the test steps is the wall clock under it,
 * `Date.now`, replaced before the server is built. Each scenario first lets the server observe the
 * later time (any request does), then steps the wall back: with a default clock that followed the
 * wall, every one of these tests fails.
 */

/** The wall clock (`Date.now`) the test steps, and the server's clock as the server reads it. */
class SteppedWall {
  wall = Date.UTC(2026, 0, 1)

  install(): void {
    vi.spyOn(Date, 'now').mockImplementation(() => this.wall)
  }

  /** Steps the wall clock by `ms` (negative: backwards). */
  advance(ms: number): void {
    this.wall += ms
  }

  /** The server's time. */
  now(): number {
    return t.clock.now()
  }
}

const IDLE = 600
const ABSOLUTE = 1_200
const GRACE = 30

let t: TestServer
let clock: SteppedWall
let alice: UserRecord
beforeEach(async () => {
  clock = new SteppedWall()
  clock.install()
  t = await startTestServer({
    clock: 'production',
    clients: defaultClients.map((c) =>
      c.id === 'web-app'
        ? {
            ...c,
            sessionIdleSeconds: IDLE,
            sessionAbsoluteSeconds: ABSOLUTE,
            refreshGraceSeconds: GRACE,
          }
        : c,
    ),
  })
  expect(t.server.ctx.clock).toBeInstanceOf(MonotonicClock)
  alice = await t.createUser('alice')
})
afterEach(async () => {
  await t.close()
  vi.restoreAllMocks()
})

const S = 1000
const token = (form: Record<string, string>) => postForm(t.url + '/oauth/token', form)

function redeemForm(c: Awaited<ReturnType<typeof mintCode>>): Record<string, string> {
  return codeForm(c)
}

async function signIn(): Promise<{ refreshToken: string; accessToken: string }> {
  const r = await token(redeemForm(await mintCode(t, alice)))
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return {
    refreshToken: r.body.refresh_token as string,
    accessToken: r.body.access_token as string,
  }
}

/** The introspection judgement (web-app is public: nobody may ask the endpoint about its
 * tokens for the issuer, SES-12). */
async function introspectActive(tok: string): Promise<boolean> {
  return isActive(t, tok)
}

/** Any request makes the server read its clock; this one changes nothing. */
async function serverObservesTime(): Promise<void> {
  expect(await introspectActive('tsr_unknown')).toBe(false)
}

describe('REL-10 the clock steps backwards', () => {
  it('REL-10 MonotonicClock never goes back: a backward step holds time until the source passes it', () => {
    let wall = 1_000
    const mono = new MonotonicClock(() => wall)
    const seen: number[] = []
    for (const w of [1_000, 2_000, 1_500, 900, 2_000, 2_001, -5, 3_000]) {
      wall = w
      seen.push(mono.now())
    }
    expect(seen).toStrictEqual([1_000, 2_000, 2_000, 2_000, 2_000, 2_001, 2_001, 3_000])

    // A random walk with steps both ways: the clock is always the running maximum of the source.
    let max = mono.now()
    for (let i = 0; i < 10_000; i++) {
      wall += Math.round((Math.random() - 0.4) * 60_000)
      max = Math.max(max, wall)
      expect(mono.now()).toBe(max)
    }
  })

  it('REL-10 an access token that expired before the step stays expired after it', async () => {
    const { accessToken } = await signIn()
    expect(await introspectActive(accessToken)).toBe(true)
    clock.advance(901 * S) // past the 900 s lifetime
    expect(await introspectActive(accessToken)).toBe(false)
    clock.advance(-600 * S)
    expect(await introspectActive(accessToken)).toBe(false)
  })

  it('REL-10 an authorization code that expired before the step stays expired after it', async () => {
    const c = await mintCode(t, alice, { ttlSeconds: 60 })
    clock.advance(61 * S)
    const late = await token(redeemForm(c))
    expect([late.status, late.body.error]).toStrictEqual([400, 'invalid_grant'])
    clock.advance(-30 * S)
    const again = await token(redeemForm(c))
    expect([again.status, again.body.error]).toStrictEqual([400, 'invalid_grant'])
    expect(await t.store.listSessions({ userId: alice.id })).toEqual([])
  })

  it('REL-10 the idle timeout is not extended: a session idle past it stays abandoned after the step', async () => {
    const start = clock.now()
    const { refreshToken } = await signIn()
    const sid = sessionIdOf(refreshToken)
    clock.advance((IDLE + 10) * S)
    await serverObservesTime()
    clock.advance(-300 * S) // the wall is now only 310 s after the last activity
    const r = await token(refreshForm(refreshToken))
    expect([r.status, r.body.error]).toStrictEqual([400, 'invalid_grant'])
    const s = (await t.store.getSession(sid))!
    // Ended when the idle timeout ran out (not when it was noticed, nor at the stepped wall time).
    expect([s.state, s.reason, s.endedAt]).toStrictEqual([
      'abandoned',
      'idle_timeout',
      start + IDLE * S,
    ])
    // The decision is kept: stepping further back changes nothing.
    clock.advance(-300 * S)
    const again = await token(refreshForm(refreshToken))
    expect([again.status, again.body.error]).toStrictEqual([400, 'invalid_grant'])
  })

  it('REL-10 activity during a backward step is stamped with the held time, not the earlier wall time', async () => {
    const start = clock.now()
    const { refreshToken } = await signIn()
    const sid = sessionIdOf(refreshToken)
    clock.advance(500 * S)
    await serverObservesTime()
    clock.advance(-400 * S) // wall: start + 100 s
    const r = await token(refreshForm(refreshToken))
    expect(r.status).toBe(200)
    const s = (await t.store.getSession(sid))!
    expect([s.lastActiveAt, s.rotatedAt]).toStrictEqual([start + 500 * S, start + 500 * S])
  })

  it('REL-10 the absolute lifetime is not extended: a session past it stays expired after the step', async () => {
    const start = clock.now()
    let { refreshToken } = await signIn()
    const sid = sessionIdOf(refreshToken)
    for (let i = 0; i < 2; i++) {
      clock.advance(500 * S) // keep it from going idle
      const r = await token(refreshForm(refreshToken))
      expect(r.status).toBe(200)
      refreshToken = r.body.refresh_token as string
    }
    clock.advance((ABSOLUTE - 1_000 + 10) * S) // 10 s past the absolute lifetime
    await serverObservesTime()
    clock.advance(-300 * S)
    const r = await token(refreshForm(refreshToken))
    expect([r.status, r.body.error]).toStrictEqual([400, 'invalid_grant'])
    const s = (await t.store.getSession(sid))!
    expect([s.state, s.reason]).toStrictEqual(['expired', 'absolute_lifetime'])
    expect(s.endedAt).toBe(start + ABSOLUTE * S)
  })

  it('REL-10 the grace window is not extended: the parent replayed after it is reuse even after the step', async () => {
    const { refreshToken: rt0 } = await signIn()
    const sid = sessionIdOf(rt0)
    const rotated = await token(refreshForm(rt0))
    expect(rotated.status).toBe(200)
    clock.advance((GRACE + 1) * S)
    await serverObservesTime()
    clock.advance(-20 * S) // the wall is back inside the 30 s window
    const replay = await token(refreshForm(rt0))
    expect([replay.status, replay.body.error]).toStrictEqual([400, 'invalid_grant'])
    const s = (await t.store.getSession(sid))!
    expect([s.state, s.reason]).toStrictEqual(['revoked', 'refresh_token_reuse'])
    const events = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(events.map((e) => e.data.cause)).toStrictEqual(['after_grace_window'])
  })
})
