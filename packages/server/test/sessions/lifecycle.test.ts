import { decodeJwt } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { MonotonicClock } from '../../src/lib/clock.js'
import { judgeSession } from '../../src/sessions/lifecycle.js'
import { runMaintenance } from '../../src/sessions/maintenance.js'
import type { SessionRecord } from '../../src/store/types.js'
import { postForm, sessionOf, signInTokens } from '../helpers/grants.js'
import { defaultClients, startTestServer, type TestServer } from '../helpers/test-server.js'

const base: SessionRecord = {
  id: 's',
  userId: 'usr_x',
  clientId: 'c',
  browserSessionId: null,
  state: 'active',
  reason: null,
  endedAt: null,
  scope: 'openid',
  resources: [],
  authTime: 0,
  amr: [],
  createdAt: 0,
  lastActiveAt: 1_000,
  expiresAt: 100_000,
  idleSeconds: 10,
  generation: 0,
  rotatedAt: 0,
  graceUses: 0,
  graceSeconds: 30,
  graceMaxUses: 10,
  salt: 'x',
  userAgent: null,
  ip: null,
}

describe('session lifecycle', () => {
  it.each([
    { now: 10_999, expect: { live: true } },
    {
      now: 11_000,
      expect: { live: false, state: 'abandoned', reason: 'idle_timeout', at: 11_000 },
    },
    {
      now: 200_000,
      session: { lastActiveAt: 95_000 },
      expect: { live: false, state: 'expired', reason: 'absolute_lifetime', at: 100_000 },
    },
    {
      now: 200_000,
      session: { lastActiveAt: 50_000 },
      expect: { live: false, state: 'abandoned', reason: 'idle_timeout', at: 60_000 },
    },
    {
      now: 100_000,
      session: { lastActiveAt: 99_000 },
      expect: { live: false, state: 'expired', reason: 'absolute_lifetime', at: 100_000 },
    },
    {
      now: 5,
      session: { state: 'revoked', reason: 'admin', endedAt: 3 } as Partial<SessionRecord>,
      expect: { live: false, state: 'revoked', reason: 'admin', at: 3, persist: false },
    },
  ])('judges a session at $now as $expect.state', (row) => {
    const s = { ...base, ...(row.session ?? {}) }
    expect(judgeSession(s, row.now)).toMatchObject(row.expect)
  })

  it('REL-10 the monotonic clock never steps backwards, so a clock step back cannot extend a timeout', () => {
    let wall = 1_000_000
    const clock = new MonotonicClock(() => wall)
    expect(clock.now()).toBe(1_000_000)
    wall -= 30_000
    expect(clock.now()).toBe(1_000_000)
    wall = 1_000_500
    expect(clock.now()).toBe(1_000_500)
  })
})

describe('maintenance', () => {
  let t: TestServer | undefined
  afterEach(async () => {
    await t?.close()
    t = undefined
  })

  it('marks sessions abandoned at their idle deadline and expired at their absolute lifetime, with the true end time', async () => {
    const clients = defaultClients.map((c) =>
      c.id === 'web-app' ? { ...c, sessionIdleSeconds: 600, sessionAbsoluteSeconds: 3600 } : c,
    )
    t = await startTestServer({ clients })
    const user = await t.createUser()
    const idle = await signInTokens(t, user)
    const busy = await signInTokens(t, user)
    const idleSid = decodeJwt(idle.body.access_token).sid as string
    const start = t.clock.now()
    let rt = busy.body.refresh_token as string
    // keep one session busy every 5 minutes for 65 minutes
    for (let i = 0; i < 13; i++) {
      t.clock.advance(300_000)
      const r = await postForm(t.url + '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: 'web-app',
      })
      if (i < 11) {
        expect(r.status).toBe(200)
        rt = r.body.refresh_token
      } else {
        expect(r.body.error).toBe('invalid_grant')
      }
    }
    expect(idle.status).toBe(200)
    const result = await runMaintenance(t.server.ctx)
    // the busy session was already marked expired by the refresh that found it so
    expect(result.abandoned).toBe(1)
    const idleSession = await sessionOf(t, idleSid)
    expect(idleSession).toMatchObject({
      state: 'abandoned',
      reason: 'idle_timeout',
      endedAt: start + 600_000,
    })
    const busySession = (await t.store.listSessions({})).find((s) => s.id !== idleSid)!
    expect(busySession).toMatchObject({
      state: 'expired',
      reason: 'absolute_lifetime',
      endedAt: start + 3600_000,
    })
    expect(await runMaintenance(t.server.ctx)).toMatchObject({ expired: 0, abandoned: 0 })
  })
})
