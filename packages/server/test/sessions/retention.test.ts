import { decodeJwt } from 'jose'
import type { Client as pgClient } from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runMaintenance } from '../../src/sessions/maintenance.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import { authorize, rowCounts } from '../helpers/oauth-flow.js'
import { createTestSchema, type TestSchema } from '../helpers/postgres.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { sessionRecord } from '../store/records.js'
import { manualTimers, newSecret } from '../webhooks/receiver.js'

/**
 * Retention, by the server's (fake) clock, checked in the SQLite file: ended sessions, browser
 * sessions and security events are deleted once they are older than their `retention.*` setting,
 * and not a millisecond before; a browser session a live session belongs to stays; a large backlog
 * is deleted in batches between which requests are served. And the outbox: no webhook message is
 * written for a type no configured endpoint receives.
 */

const HOUR = 3_600_000
const DAY = 24 * HOUR

describe('retention: what has ended is deleted after its retention, by the server clock', () => {
  let t: TestServer
  let t0: number
  let refreshToken: string
  let liveSid: string
  beforeAll(async () => {
    t = await startTestServer({
      config: {
        maintenanceIntervalSeconds: 0,
        browserSession: { idleSeconds: HOUR / 1000, absoluteSeconds: (2 * HOUR) / 1000 },
        retention: {
          sessionsSeconds: DAY / 1000,
          browserSessionsSeconds: DAY / 1000,
          eventsSeconds: (2 * DAY) / 1000,
          batchSize: 10,
        },
      },
    })
    t0 = t.clock.now()
    const alice = await t.createUser()
    // A browser sign-in: a browser session and a client session that belongs to it.
    const a = await authorize(t)
    const tokens = await postForm(t.url + '/oauth/token', {
      grant_type: 'authorization_code',
      code: a.code,
      code_verifier: a.codeVerifier,
      redirect_uri: a.redirectUri,
      client_id: a.clientId,
    })
    expect(tokens.status).toBe(200)
    refreshToken = tokens.body.refresh_token as string
    liveSid = decodeJwt(tokens.body.access_token as string).sid as string
    // Twelve sessions revoked at t0 (each with its security event).
    for (let i = 0; i < 12; i++) {
      const s = await signInTokens(t, alice)
      const r = await postForm(t.url + '/oauth/revoke', {
        token: s.body.refresh_token as string,
        client_id: 'web-app',
      })
      expect(r.status).toBe(200)
    }
  })
  afterAll(() => t.close())

  async function passAt(at: number) {
    t.clock.set(at)
    const r = await runMaintenance(t.server.ctx)
    return {
      sessions: r.sessionsDeleted,
      browser: r.browserSessionsDeleted,
      events: r.eventsDeleted,
    }
  }

  it('nothing is deleted before its horizon', async () => {
    const before = rowCounts(t)
    expect(before).toMatchObject({ sessions: 13, active_sessions: 1, browser_sessions: 1 })
    expect(before.security_events).toBeGreaterThan(0)
    expect(await passAt(t0 + DAY - 1)).toEqual({ sessions: 0, browser: 0, events: 0 })
    expect(rowCounts(t)).toEqual(before)
  })

  it('ended sessions go once they ended longer ago than retention.sessionsSeconds (all, in batches of 10)', async () => {
    // The live session is refreshed on the way, so it is not abandoned meanwhile.
    const r = await postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      client_id: 'web-app',
    })
    expect(r.status).toBe(200)
    refreshToken = r.body.refresh_token as string
    expect(await passAt(t0 + DAY + 1)).toEqual({ sessions: 12, browser: 0, events: 0 })
    expect(rowCounts(t)).toMatchObject({ sessions: 1, active_sessions: 1 })
    expect((await t.store.getSession(liveSid))?.state).toBe('active')
  })

  it('the browser session, over for longer than its retention, stays while a live session belongs to it', async () => {
    // Idle since t0 (idleSeconds: 1 h), so over at t0 + 1 h, and past its retention from
    // t0 + 1 h + 1 day; but its client session is live.
    const overFor = t0 + HOUR + DAY
    expect(await passAt(overFor + 1)).toEqual({ sessions: 0, browser: 0, events: 0 })
    expect(rowCounts(t).browser_sessions).toBe(1)
    const r = await postForm(t.url + '/oauth/revoke', { token: refreshToken, client_id: 'web-app' })
    expect(r.status).toBe(200)
    // Once no live session belongs to it, it goes; the revoked session a retention later.
    expect(await passAt(overFor + 2)).toEqual({ sessions: 0, browser: 1, events: 0 })
    expect(rowCounts(t)).toMatchObject({ browser_sessions: 0, sessions: 1 })
  })

  it('security events go after retention.eventsSeconds', async () => {
    const events = rowCounts(t).security_events
    const recent = await t.store.listEvents({ since: t0 + 1, limit: 1000 })
    const atT0 = events - recent.length
    expect(atT0).toBeGreaterThan(0)
    expect((await passAt(t0 + 2 * DAY)).events).toBe(0)
    const r = await passAt(t0 + 2 * DAY + 1)
    expect(r.events).toBe(atT0)
    expect(rowCounts(t).security_events).toBe(recent.length)
    // The session revoked at t0 + 1 day + 1 h + 1 ms goes a day after that.
    expect((await passAt(t0 + 2 * DAY + HOUR + 1)).sessions).toBe(0)
    expect((await passAt(t0 + 2 * DAY + HOUR + 2)).sessions).toBe(1)
    expect(rowCounts(t).sessions).toBe(0)
  })
})

describe('retention: a backlog is deleted in batches that let requests through', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer({
      config: { maintenanceIntervalSeconds: 0, retention: { batchSize: 10 } },
    })
  })
  afterAll(() => t.close())

  it('a refresh sent while a pass deletes 2,000 ended sessions is answered before the pass ends', async () => {
    const alice = await t.createUser()
    const tokens = await signInTokens(t, alice)
    const endedAt = t.clock.now() - 31 * DAY
    for (let i = 0; i < 2000; i++) {
      await t.store.createSession(
        sessionRecord({ userId: alice.id, state: 'revoked', reason: 'admin', endedAt }),
      )
    }
    const order: string[] = []
    const pass = runMaintenance(t.server.ctx).then((r) => {
      order.push('pass')
      return r
    })
    const refresh = postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
      client_id: 'web-app',
    }).then((r) => {
      order.push('refresh')
      return r
    })
    const [r, res] = await Promise.all([pass, refresh])
    expect(res.status).toBe(200)
    expect(r.sessionsDeleted).toBe(2000)
    expect(order).toEqual(['refresh', 'pass'])
    expect(rowCounts(t)).toMatchObject({ sessions: 1, active_sessions: 1 })
  })
})

describe('webhook messages are written only for event types a configured endpoint receives', () => {
  const revokeOne = async (t: TestServer) => {
    const alice = (await t.store.getUserByUsername('alice')) ?? (await t.createUser())
    const s = await signInTokens(t, alice)
    const r = await postForm(t.url + '/oauth/revoke', {
      token: s.body.refresh_token as string,
      client_id: 'web-app',
    })
    expect(r.status).toBe(200)
  }
  const messages = (t: TestServer) => t.store.listWebhookMessages(1000)

  it('no endpoint: ending a session writes no message', async () => {
    const t = await startTestServer({ config: { maintenanceIntervalSeconds: 0 } })
    try {
      await revokeOne(t)
      expect(rowCounts(t).sessions).toBe(1)
      expect(await messages(t)).toEqual([])
    } finally {
      await t.close()
    }
  })

  it('an endpoint for session.reuse_detected only: a revocation writes nothing; with all types it does', async () => {
    const only = await startTestServer({
      config: {
        maintenanceIntervalSeconds: 0,
        webhooks: {
          endpoints: [
            {
              url: 'http://127.0.0.1:9/a',
              secret: newSecret(),
              events: ['session.reuse_detected'],
            },
          ],
        },
      },
      timers: manualTimers,
    })
    try {
      await revokeOne(only)
      expect(await messages(only)).toEqual([])
    } finally {
      await only.close()
    }
    const all = await startTestServer({
      config: {
        maintenanceIntervalSeconds: 0,
        webhooks: { endpoints: [{ url: 'http://127.0.0.1:9/a', secret: newSecret() }] },
      },
      timers: manualTimers,
    })
    try {
      await revokeOne(all)
      expect((await messages(all)).map((m) => m.type)).toEqual(['session.revoked'])
    } finally {
      await all.close()
    }
  })
})

describe('retention on PostgreSQL: the same horizons, counted in the schema', () => {
  let t: TestServer
  let schema: TestSchema
  let pg: pgClient
  beforeAll(async () => {
    schema = await createTestSchema()
    t = await startTestServer({
      store: schema.store(),
      config: {
        maintenanceIntervalSeconds: 0,
        retention: { sessionsSeconds: DAY / 1000, eventsSeconds: (2 * DAY) / 1000, batchSize: 10 },
      },
    })
    pg = await schema.admin()
  })
  afterAll(async () => {
    await pg.end()
    await t.close()
    await schema.drop()
  })

  const count = async (table: string) =>
    Number((await pg.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n)

  it('ended sessions a day after their end, events two days after, live sessions never', async () => {
    const t0 = t.clock.now()
    const alice = await t.createUser()
    await signInTokens(t, alice)
    for (let i = 0; i < 25; i++) {
      const s = await signInTokens(t, alice)
      const r = await postForm(t.url + '/oauth/revoke', {
        token: s.body.refresh_token as string,
        client_id: 'web-app',
      })
      expect(r.status).toBe(200)
    }
    const events = await count('security_events')
    expect(events).toBeGreaterThan(0)
    expect(await count('sessions')).toBe(26)
    t.clock.set(t0 + DAY)
    expect((await runMaintenance(t.server.ctx)).sessionsDeleted).toBe(0)
    t.clock.set(t0 + DAY + 1)
    expect((await runMaintenance(t.server.ctx)).sessionsDeleted).toBe(25)
    expect(await count('sessions')).toBe(1)
    expect(await count("sessions where state = 'active'")).toBe(1)
    t.clock.set(t0 + 2 * DAY)
    expect((await runMaintenance(t.server.ctx)).eventsDeleted).toBe(0)
    t.clock.set(t0 + 2 * DAY + 1)
    expect((await runMaintenance(t.server.ctx)).eventsDeleted).toBe(events)
    expect(await count('security_events')).toBe(0)
  })
})
