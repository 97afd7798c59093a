import { decodeProtectedHeader } from 'jose'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/store/postgres-store.js'
import type { SigningKeyRecord, UserRecord } from '../../src/store/types.js'
import { UNKNOWN_KID_COOLDOWN_MS } from '../../src/tokens/signing-keys.js'
import { basicAuth, mintCode, postForm, codeForm } from '../helpers/grants.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import {
  CONFIDENTIAL_SECRET,
  freePort,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'
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
 * Two server instances on one PostgreSQL schema, with the same secret and configuration, as behind
 * a load balancer: whatever one instance does, the other sees. The first block runs two real
 * server processes; the second two servers in this process (each with its own pool), because it
 * rotates signing keys through one of them and steers their clocks.
 */

const ISSUER = 'https://auth.example.test'
/** Per-IP failed token requests allowed, shared by both instances. */
const GRANT_IP_LIMIT = 6

/** The sessions here are confidential-app's, which may introspect its own tokens (SES-12). */
const AUTH = basicAuth('confidential-app', CONFIDENTIAL_SECRET)
const introspect = (url: string, token: string) =>
  postForm(url + '/oauth/introspect', { token }, AUTH)
const refreshOwn = (url: string, token: string) =>
  postForm(url + '/oauth/token', refreshForm(token, 'confidential-app'), AUTH)

describe('two server processes on one PostgreSQL schema', () => {
  let schema: TestSchema
  let store: PostgresStore
  let a: ChildServer
  let b: ChildServer
  let alice: UserRecord

  beforeAll(async () => {
    schema = await createTestSchema()
    const options = async () => ({
      dbFile: 'unused: the servers use PostgreSQL',
      port: await freePort(),
      issuer: ISSUER,
      postgres: { url: PG_URL, schema: schema.name, poolSize: 4 },
      throttle: { invalidGrantPerIp: { limit: GRANT_IP_LIMIT, windowSeconds: 86_400 } },
      trustProxy: ['127.0.0.1'],
    })
    // Both start at once on the empty schema: they race to migrate and to create the first key.
    ;[a, b] = await Promise.all([
      startChildServer(await options()),
      startChildServer(await options()),
    ])
    store = schema.store()
    alice = await seedUser(store)
  }, 60_000)
  afterAll(async () => {
    await Promise.all([a && stopChild(a), b && stopChild(b)])
    await store?.close()
    await schema?.drop()
  })

  async function signInAt(server: ChildServer): Promise<{ rt: string; at: string }> {
    const { form } = await storeCode(store, alice, 'confidential-app')
    const r = await postForm(server.url + '/oauth/token', form, AUTH)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    return { rt: r.body.refresh_token as string, at: r.body.access_token as string }
  }

  it('instances starting together on an empty database migrate once and share one signing key', async () => {
    const keys = await store.listSigningKeys()
    expect(keys).toHaveLength(1)
    const [jwksA, jwksB] = await Promise.all(
      [a, b].map(async (s) => (await fetch(s.url + '/.well-known/jwks.json')).json()),
    )
    expect(jwksA).toStrictEqual(jwksB)
    expect((jwksA as { keys: { kid: string }[] }).keys.map((k) => k.kid)).toStrictEqual([
      keys[0]!.kid,
    ])
  })

  it('a token issued by A is refreshed by B, revoked by B and introspected by A', async () => {
    const { rt: rt0, at: at0 } = await signInAt(a)
    const sid = sessionIdOf(rt0)
    expect((await introspect(b.url, at0)).body.active).toBe(true)

    const refreshed = await refreshOwn(b.url, rt0)
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200)
    const rt1 = refreshed.body.refresh_token as string
    const at1 = refreshed.body.access_token as string
    expect(generationOf(rt1)).toBe(1)
    const ia = await introspect(a.url, rt1)
    expect([ia.body.active, ia.body.sid ?? sid]).toStrictEqual([true, sid])
    expect((await introspect(a.url, at1)).body.active).toBe(true)

    const revoked = await postForm(b.url + '/oauth/revoke', { token: rt1 }, AUTH)
    expect(revoked.status).toBe(200)
    for (const tok of [rt1, at1, at0]) {
      expect(await introspect(a.url, tok)).toMatchObject({ status: 200, body: { active: false } })
    }
    const s = (await store.getSession(sid))!
    expect([s.state, s.reason, s.generation]).toStrictEqual(['revoked', 'token_revocation', 1])
    const again = await refreshOwn(a.url, rt1)
    expect([again.status, again.body.error]).toStrictEqual([400, 'invalid_grant'])
  })

  it('reuse detected on A revokes the session on B too', async () => {
    const { rt: rt0 } = await signInAt(a)
    const sid = sessionIdOf(rt0)
    const rt1 = (await refreshOwn(a.url, rt0)).body.refresh_token as string
    const r2 = await refreshOwn(b.url, rt1)
    expect(r2.status).toBe(200)
    const rt2 = r2.body.refresh_token as string
    const at2 = r2.body.access_token as string

    // rt0 is a grandparent: reuse, detected on A.
    const reuse = await refreshOwn(a.url, rt0)
    expect([reuse.status, reuse.body.error]).toStrictEqual([400, 'invalid_grant'])

    const onB = await refreshOwn(b.url, rt2)
    expect([onB.status, onB.body.error]).toStrictEqual([400, 'invalid_grant'])
    expect((await introspect(b.url, rt2)).body.active).toBe(false)
    expect((await introspect(b.url, at2)).body.active).toBe(false)
    const s = (await store.getSession(sid))!
    expect([s.state, s.reason, s.generation]).toStrictEqual(['revoked', 'refresh_token_reuse', 2])
    const events = await store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(events.map((e) => e.data.cause)).toStrictEqual(['stale_lineage'])
  })

  it('throttling counts failures from both instances together (kept in the store table)', async () => {
    const ip = '203.0.113.7'
    const bad = (server: ChildServer, from = ip) =>
      postForm(server.url + '/oauth/token', refreshForm('tsr_not-a-real-token'), {
        'x-forwarded-for': from,
      })
    for (let i = 0; i < GRANT_IP_LIMIT / 2; i++) {
      expect((await bad(a)).status).toBe(400)
      expect((await bad(b)).status).toBe(400)
    }
    const { rows } = await schemaQuery<{ count: number }>(
      'select count from throttle where key = $1',
      [`grant-ip:${ip}`],
    )
    expect(rows).toStrictEqual([{ count: GRANT_IP_LIMIT }])

    // Each instance trusts a count it read for up to a second; then both see the shared total.
    await new Promise((r) => setTimeout(r, 1100))
    for (const server of [a, b]) {
      const r = await bad(server)
      expect([r.status, r.body.error]).toStrictEqual([429, 'temporarily_unavailable'])
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
    // Another address is not affected.
    expect((await bad(a, '203.0.113.8')).status).toBe(400)
  })

  async function schemaQuery<R extends object>(text: string, values: unknown[]) {
    const c = await schema.admin()
    try {
      return await c.query<R & pg.QueryResultRow>(text, values)
    } finally {
      await c.end()
    }
  }
})

/** Counts the reads of the signing keys, to show what an unknown kid costs. */
class KeyReadCountingStore extends PostgresStore {
  keyReads = 0
  override listSigningKeys(): Promise<SigningKeyRecord[]> {
    this.keyReads++
    return super.listSigningKeys()
  }
}

describe('signing keys across two instances (in-process, one pool each)', () => {
  let schema: TestSchema
  let a: TestServer
  let b: TestServer
  let bStore: KeyReadCountingStore
  let alice: UserRecord

  beforeAll(async () => {
    schema = await createTestSchema()
    // A new key signs at once (no JWKS cache lifetime): the hardest case for the other instance.
    const config = { issuer: ISSUER, jwksMaxAgeSeconds: 0 }
    a = await startTestServer({ store: schema.store(), config })
    bStore = new KeyReadCountingStore({ url: PG_URL, schema: schema.name })
    b = await startTestServer({ store: bStore, config })
    alice = await a.createUser('alice')
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await schema?.drop()
  })

  const kids = async (t: TestServer): Promise<string[]> => {
    const r = await fetch(t.url + '/.well-known/jwks.json')
    return ((await r.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()
  }

  async function tokensFromA(): Promise<{ at: string; rt: string }> {
    const c = await mintCode(a, alice, { clientId: 'confidential-app' })
    const r = await postForm(a.url + '/oauth/token', codeForm(c), AUTH)
    expect(r.status).toBe(200)
    return { at: r.body.access_token as string, rt: r.body.refresh_token as string }
  }

  it('a key rotated through A verifies on B at once (reload on an unknown kid) and B then publishes it', async () => {
    const before = await kids(b)
    const rotated = await a.server.ctx.keys.rotate()
    const { at } = await tokensFromA()
    expect(decodeProtectedHeader(at).kid).toBe(rotated.kid)
    // B has not reloaded yet: its cached key set is within its 30 s staleness bound.
    expect(await kids(b)).toStrictEqual(before)

    const r = await introspect(b.url, at)
    expect([r.status, r.body.active]).toStrictEqual([200, true])
    expect(await kids(b)).toStrictEqual([...before, rotated.kid].sort())
    expect(await kids(b)).toStrictEqual(await kids(a))
  })

  it('B picks up a rotation within 30 s of its clock without seeing the new kid', async () => {
    const rotated = await a.server.ctx.keys.rotate()
    expect(await kids(b)).not.toContain(rotated.kid)
    b.clock.advance(31_000)
    expect(await kids(b)).toContain(rotated.kid)
    expect(await kids(b)).toStrictEqual(await kids(a))
  })

  it('JWT-05 made-up kids reload the keys at most once per cooldown, never per request', async () => {
    const { at } = await tokensFromA()
    const [h, p, sig] = at.split('.') as [string, string, string]
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>
    const reads = bStore.keyReads
    const started = performance.now()
    for (let i = 0; i < 30; i++) {
      const forged = Buffer.from(JSON.stringify({ ...header, kid: `nope-${i}` })).toString(
        'base64url',
      )
      expect((await introspect(b.url, `${forged}.${p}.${sig}`)).body.active).toBe(false)
    }
    const elapsed = performance.now() - started
    expect(bStore.keyReads - reads).toBeLessThanOrEqual(
      1 + Math.ceil(elapsed / UNKNOWN_KID_COOLDOWN_MS),
    )
    expect(bStore.keyReads - reads).toBeLessThan(30)
  })
})
