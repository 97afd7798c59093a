import { decodeJwt } from 'jose'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm, codeForm } from '../helpers/grants.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import { defaultClients, startTestServer, type TestServer } from '../helpers/test-server.js'
import {
  barrierPost,
  formBody,
  generationOf,
  CountingPostgresStore,
  CountingSqliteStore,
  InterleavingSqliteStore,
  refreshForm,
  type CasCounts,
  sessionIdOf,
  type RawResponse,
} from './support.js'

/**
 * REL-01: N refreshes of one refresh token released together by a barrier. Afterwards, from the
 * responses and the database:
 *
 * - I1 one rotation: the session's generation advanced exactly once (g0 -> g0 + 1), at the moment
 *   of the burst.
 * - I2 one child: every 200 carries the same refresh token, the one of generation g0 + 1 (no second
 *   live branch), each with its own fresh access token for the same session.
 * - I3 closed outcomes: every request was answered, with 200 or with 400 invalid_grant in RFC 6749
 *   JSON; no 5xx and nothing else.
 * - I4 nothing lost, nothing extra: the grace replays recorded equal the 200s beyond the one
 *   rotation; while the burst fits the client's replay limit the session stays active, no reuse is
 *   recorded and the child refreshes normally.
 *
 * A burst larger than the replay limit (refreshGraceMaxUses, default 1000) is a runaway client,
 * not reuse (REL-15): the last test shows I1-I3 still hold, the excess is refused, and nothing is
 * revoked.
 */

/** other-app sets a replay limit of 10, for the burst beyond it; web-app keeps the default. */
const OTHER_LIMIT = 10

const clients = defaultClients.map((c) =>
  c.id === 'other-app' ? { ...c, refreshGraceMaxUses: OTHER_LIMIT } : c,
)

/**
 * Each test runs on three stores: the SqliteStore as the server uses it; one that yields to the
 * event loop at every store call, so that the requests really contend at the compare-and-set (see
 * InterleavingSqliteStore) as they would on a networked database; and PostgreSQL itself, with a
 * pool of 10 connections, where the requests contend by themselves and the compare-and-set is
 * PostgreSQL's row lock and re-check.
 */
const setups = [
  { name: 'SqliteStore', kind: 'sqlite', interleaving: false },
  { name: 'SqliteStore interleaving at every call', kind: 'sqlite', interleaving: true },
  { name: 'PostgresStore', kind: 'postgres', interleaving: false },
] as const

let t: TestServer
let alice: UserRecord
/** The store's compare-and-set counters, where it has them. */
let counted: { cas: CasCounts } | undefined
let dir: string
let schema: TestSchema | undefined

async function start(setup: (typeof setups)[number]): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'tessera-rel01-'))
  let store: InterleavingSqliteStore | CountingSqliteStore | CountingPostgresStore
  if (setup.kind === 'postgres') {
    schema = await createTestSchema()
    store = new CountingPostgresStore({ url: PG_URL, schema: schema.name, poolSize: 10 })
  } else if (setup.interleaving) {
    store = new InterleavingSqliteStore({ file: join(dir, 'tessera.db'), synchronous: 'NORMAL' })
  } else {
    store = new CountingSqliteStore({ file: join(dir, 'tessera.db'), synchronous: 'NORMAL' })
  }
  counted = store
  t = await startTestServer({ dir, clients, store })
  alice = await t.createUser('alice')
}

async function stop(): Promise<void> {
  await t.close()
  await schema?.drop()
  schema = undefined
  rmSync(dir, { recursive: true, force: true })
}

const tokenUrl = () => t.url + '/oauth/token'

/** Signs in and rotates `rotations` times; returns the current refresh token. */
async function familyAt(clientId: string, rotations: number): Promise<string> {
  const c = await mintCode(t, alice, { clientId })
  const first = await postForm(tokenUrl(), codeForm(c, { client_id: clientId }))
  expect(first.status).toBe(200)
  let rt = first.body.refresh_token as string
  for (let i = 0; i < rotations; i++) {
    const r = await postForm(tokenUrl(), refreshForm(rt, clientId))
    expect(r.status).toBe(200)
    rt = r.body.refresh_token as string
  }
  return rt
}

interface BurstOutcome {
  ok: RawResponse[]
  refused: RawResponse[]
  child: string | undefined
}

/** I1-I3, common to every burst. */
async function checkI1toI3(
  parent: string,
  responses: RawResponse[],
  n: number,
): Promise<BurstOutcome> {
  const sid = sessionIdOf(parent)
  const g0 = generationOf(parent)
  const session = (await t.store.getSession(sid))!

  // I3: all answered; only 200 or invalid_grant.
  expect(responses).toHaveLength(n)
  for (const r of responses) {
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(500)
    expect([200, 400]).toContain(r.status)
    expect(r.headers['cache-control']).toBe('no-store')
    if (r.status === 400) expect(r.body.error).toBe('invalid_grant')
  }
  const ok = responses.filter((r) => r.status === 200)
  const refused = responses.filter((r) => r.status === 400)
  expect(ok.length + refused.length).toBe(n)
  expect(ok.length).toBeGreaterThanOrEqual(1)

  // I1: exactly one rotation, at the burst.
  expect(session.generation).toBe(g0 + 1)
  expect(session.rotatedAt).toBe(t.clock.now())

  // I2: one child for everyone, each with its own access token for this session.
  const child = t.server.ctx.refreshTokens.encode(sid, g0 + 1, session.salt)
  expect(new Set(ok.map((r) => r.body.refresh_token))).toStrictEqual(new Set([child]))
  expect(child).not.toBe(parent)
  const jtis = ok.map((r) => {
    const at = decodeJwt(r.body.access_token as string)
    expect(at.sid).toBe(sid)
    expect(at.sub).toBe(alice.id)
    return at.jti
  })
  expect(new Set(jtis).size).toBe(ok.length)
  return { ok, refused, child }
}

/** Counts the compare-and-set outcomes of one burst (instrumented stores only). */
function casDuring(): () => { rotateWon: number; rotateLost: number; graceWon: number } {
  const before = { ...counted!.cas }
  return () => ({
    rotateWon: counted!.cas.rotateWon - before.rotateWon,
    rotateLost: counted!.cas.rotateLost - before.rotateLost,
    graceWon: counted!.cas.graceWon - before.graceWon,
  })
}

describe.each(setups)('REL-01 concurrent refreshes of one refresh token ($name)', (setup) => {
  beforeAll(() => start(setup))
  afterAll(stop)

  for (const n of [2, 20, 100]) {
    it(`REL-01 ${n} refreshes of one token released by a barrier converge on one child (I1-I4)`, async () => {
      const parent = await familyAt('web-app', 1)
      const sid = sessionIdOf(parent)
      const cas = casDuring()
      const responses = await barrierPost(
        tokenUrl(),
        Array.from({ length: n }, () => formBody(refreshForm(parent))),
      )
      const { ok, refused, child } = await checkI1toI3(parent, responses, n)
      {
        // The requests really raced: losers of the compare-and-set converged through the grace path.
        const c = cas()
        expect(c.rotateWon).toBe(1)
        // On PostgreSQL two requests may still run one after the other; 20 never do.
        // On SQLite, too, as the server uses it: the requests read the same generation and meet
        // in one group commit (a rotation that lost is the proof, counted, not assumed).
        if (setup.kind === 'sqlite' || n >= 20) expect(c.rotateLost).toBeGreaterThanOrEqual(1)
        expect(c.graceWon).toBe(n - 1)
      }

      // I4: the burst fits the replay limit: every request got the child, nothing was revoked.
      expect(refused).toHaveLength(0)
      expect(ok).toHaveLength(n)
      const session = (await t.store.getSession(sid))!
      expect(session.state).toBe('active')
      expect(session.graceUses).toBe(n - 1)
      expect(await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toEqual([])
      const next = await postForm(tokenUrl(), refreshForm(child!))
      expect(next.status).toBe(200)
      expect(generationOf(next.body.refresh_token as string)).toBe(generationOf(parent) + 2)
      expect((await t.store.getSession(sid))!.generation).toBe(generationOf(parent) + 2)
    })
  }

  it('REL-01/REL-15 a burst beyond the replay limit still yields one child; the excess is refused and nothing is revoked', async () => {
    const limit = (await t.store.getClient('other-app'))!.refreshGraceMaxUses
    expect(limit).toBe(OTHER_LIMIT)
    const n = 20
    const parent = await familyAt('other-app', 0)
    const sid = sessionIdOf(parent)
    const responses = await barrierPost(
      tokenUrl(),
      Array.from({ length: n }, () => formBody(refreshForm(parent, 'other-app'))),
    )
    const { ok, refused, child } = await checkI1toI3(parent, responses, n)

    expect(ok).toHaveLength(1 + OTHER_LIMIT)
    expect(refused).toHaveLength(n - 1 - OTHER_LIMIT)
    for (const r of refused) {
      expect(r.body.error_description).toBe(
        'the previous refresh token was replayed 10 times since the rotation: use the current one',
      )
    }
    const session = (await t.store.getSession(sid))!
    expect(session.graceUses).toBe(OTHER_LIMIT)
    expect([session.state, session.reason]).toStrictEqual(['active', null])
    expect(await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toEqual([])
    const next = await postForm(tokenUrl(), refreshForm(child!, 'other-app'))
    expect(next.status).toBe(200)
    expect(generationOf(next.body.refresh_token as string)).toBe(generationOf(parent) + 2)
  })
})
