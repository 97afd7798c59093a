import { decodeJwt } from 'jose'
import * as client from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/lib/clock.js'
import type { Store } from '../../src/store/store.js'
import type { UserRecord } from '../../src/store/types.js'
import { RoundRobinBalancer } from '../helpers/balancer.js'
import { codeForm, mintCode, postForm } from '../helpers/grants.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import { freePort, startTestServer, type TestServer } from '../helpers/test-server.js'
import {
  generationOf,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from './support.js'

/**
 * REL-15: a retry storm. An app resuming from the background with many queued requests, or many
 * tabs without a shared lock, presents one refresh token 100 times at once. Within the grace
 * window every one must get the same successor and the session must live; nothing is an alarm.
 *
 * The storm is driven by openid-client (an independent, certified client: 100 concurrent
 * `refreshTokenGrant` calls) through a round-robin balancer without affinity, whose gate holds the
 * 100 requests until all have arrived and then forwards them in one loop; the balancer's log
 * proves that all 100 were at the servers before the first answer came back. Two setups: one
 * server on SQLite, and two server processes on one PostgreSQL schema behind the balancer.
 */

const N = 100
const SCOPE = 'openid offline_access read'

interface Setup {
  issuer: string
  balancer: RoundRobinBalancer
  store: Store
  alice: UserRecord
  /** A new session of web-app; returns its first refresh token (redeemed through the balancer). */
  family(): Promise<string>
  close(): Promise<void>
}

async function sqliteSetup(): Promise<Setup> {
  // The client library checks iat and exp against the real time.
  const t: TestServer = await startTestServer({ clock: new FakeClock(Date.now()) })
  const balancer = new RoundRobinBalancer([t.url])
  await balancer.listen()
  const alice = await t.createUser('alice')
  return {
    issuer: t.url,
    balancer,
    store: t.store,
    alice,
    async family() {
      const c = await mintCode(t, alice, { scope: SCOPE, nonce: null })
      const r = await postForm(balancer.url + '/oauth/token', codeForm(c))
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      return r.body.refresh_token as string
    },
    async close() {
      await balancer.close()
      await t.close()
    },
  }
}

async function postgresSetup(): Promise<Setup> {
  const schema: TestSchema = await createTestSchema()
  const balancer = new RoundRobinBalancer([])
  await balancer.listen()
  const options = async () => ({
    dbFile: 'unused: the servers use PostgreSQL',
    port: await freePort(),
    // Both instances are one issuer: the balancer's address.
    issuer: balancer.url,
    postgres: { url: PG_URL, schema: schema.name, poolSize: 10 },
  })
  const servers: ChildServer[] = []
  servers.push(await startChildServer(await options()))
  servers.push(await startChildServer(await options()))
  balancer.setTargets(servers.map((s) => s.url))
  const store = schema.store()
  const alice = await seedUser(store)
  return {
    issuer: balancer.url,
    balancer,
    store,
    alice,
    async family() {
      const { form } = await storeCode(store, alice)
      const r = await postForm(balancer.url + '/oauth/token', form)
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      return r.body.refresh_token as string
    },
    async close() {
      await balancer.close()
      await Promise.all(servers.map((s) => stopChild(s)))
      await store.close()
      await schema.drop()
    },
  }
}

describe.each([
  { name: 'one server on SQLite', start: sqliteSetup },
  { name: 'two PostgreSQL instances behind a balancer without affinity', start: postgresSetup },
])('REL-15 retry storm ($name)', ({ start }) => {
  let s: Setup
  let config: client.Configuration

  beforeAll(async () => {
    s = await start()
    // openid-client discovers the issuer and sends every request through the balancer.
    const issuerOrigin = new URL(s.issuer).origin
    config = await client.discovery(new URL(s.issuer), 'web-app', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
      [client.customFetch]: (url, options) =>
        fetch(url.replace(issuerOrigin, s.balancer.url), options as RequestInit),
    })
  }, 60_000)
  afterAll(async () => {
    await s?.close()
  })

  /** 100 refreshTokenGrant calls with `token`, released together by the balancer's gate. */
  async function storm(token: string): Promise<client.TokenEndpointResponse[]> {
    const served = [...s.balancer.served]
    const logFrom = s.balancer.log.length
    const released = s.balancer.gate(N)
    const results = await Promise.allSettled(
      Array.from({ length: N }, () => client.refreshTokenGrant(config, token)),
    )
    await released
    // Every request was at a server before the first answer came back: a real storm.
    const entries = s.balancer.log.slice(logFrom)
    expect(entries).toHaveLength(N)
    const lastForwarded = entries.reduce((m, e) => (e.forwardedAt > m ? e.forwardedAt : m), 0n)
    for (const e of entries) expect(e.answeredAt! > lastForwarded).toBe(true)
    // Without affinity, every instance took its share of the storm.
    const share = s.balancer.served.map((n, i) => n - served[i]!)
    expect(share).toStrictEqual(share.map(() => N / share.length))
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))
    expect(failures).toStrictEqual([])
    return results.map((r) => (r as PromiseFulfilledResult<client.TokenEndpointResponse>).value)
  }

  /** Every answer carries the same successor, its own access token, and the session lives. */
  async function expectConverged(
    answers: client.TokenEndpointResponse[],
    sid: string,
    generation: number,
    graceUses: number,
  ): Promise<string> {
    const successors = new Set(answers.map((a) => a.refresh_token))
    expect(successors.size).toBe(1)
    const successor = answers[0]!.refresh_token!
    expect([sessionIdOf(successor), generationOf(successor)]).toStrictEqual([sid, generation])
    const jtis = new Set(answers.map((a) => decodeJwt(a.access_token).jti))
    expect(jtis.size).toBe(N)
    const session = (await s.store.getSession(sid))!
    expect([session.state, session.reason, session.generation, session.graceUses]).toStrictEqual([
      'active',
      null,
      generation,
      graceUses,
    ])
    expect(await s.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toEqual([])
    const retries = await s.store.listEvents({
      sessionId: sid,
      type: 'refresh_token_retry',
      limit: 500,
    })
    expect(retries).toHaveLength(graceUses)
    // The successor the storm got is alive: it rotates as usual.
    const next = await client.refreshTokenGrant(config, successor)
    expect(generationOf(next.refresh_token!)).toBe(generation + 1)
    expect((await s.store.getSession(sid))!.state).toBe('active')
    return successor
  }

  it('REL-15 100 concurrent refreshes of the current token: one rotation, 100 times the same successor, the session lives', async () => {
    const rt0 = await s.family()
    const answers = await storm(rt0)
    await expectConverged(answers, sessionIdOf(rt0), 1, N - 1)
  }, 60_000)

  it('REL-15 100 concurrent presentations of the previous token inside the window all get the current successor', async () => {
    const rt0 = await s.family()
    const rt1 = (await client.refreshTokenGrant(config, rt0)).refresh_token!
    const answers = await storm(rt0)
    expect(answers[0]!.refresh_token).toBe(rt1)
    await expectConverged(answers, sessionIdOf(rt0), 1, N)
  }, 60_000)
})
