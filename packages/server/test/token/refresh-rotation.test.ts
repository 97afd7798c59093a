import { decodeJwt } from 'jose'
import { describe, expect, it } from 'vitest'
import { RefreshTokenCodec } from '../../src/tokens/refresh-token.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  codeForm,
  mintCode,
  postForm,
  postFormFrom,
  sessionOf,
  signInTokens,
} from '../helpers/grants.js'
import { TEST_SECRET, type TestServer } from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  expectOAuthError,
  INVALID,
  isActive,
  NO_LONGER_VALID,
  refresh,
  sidOf,
  signInSession,
  useTokenServer,
  tokenEndpoint,
  userinfo,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

const signIn = (clientId = 'web-app') => signInSession(t, alice, { clientId })

/** Asserts the whole family is dead: revoked for reuse, the current RT and every AT inactive. */
async function expectFamilyRevoked(sid: string, currentRt: string, ats: string[]): Promise<void> {
  const s = await sessionOf(t, sid)
  expect(s).toMatchObject({ state: 'revoked', reason: 'refresh_token_reuse' })
  expectOAuthError(await refresh(t, currentRt), 400, 'invalid_grant', NO_LONGER_VALID)
  expect(await isActive(t, currentRt)).toBe(false)
  for (const at of ats) {
    expect(await isActive(t, at)).toBe(false)
    expect((await userinfo(t, at)).status).toBe(401)
  }
}

describe('refresh token rotation, grace window and reuse', () => {
  it('RT-01 refreshing rotates: a new RT, the old one marked used, the scope unchanged', async () => {
    const { at, rt, sid } = await signIn()
    const s0 = await sessionOf(t, sid)
    expect(s0.generation).toBe(0)
    t.clock.advance(1000)
    const r = await refresh(t, rt)
    expect(r.status).toBe(200)
    expect(r.body.refresh_token).toMatch(/^tsr_/)
    expect(r.body.refresh_token).not.toBe(rt)
    expect(sidOf(r.body.refresh_token)).toBe(sid)
    expect(r.body.scope).toBe('openid profile offline_access')
    expect(decodeJwt(r.body.access_token).scope).toBe('openid profile offline_access')
    const s1 = await sessionOf(t, sid)
    // The old token is now the previous generation: used, and no longer introspects active.
    expect(s1).toMatchObject({
      generation: 1,
      rotatedAt: t.clock.now(),
      lastActiveAt: t.clock.now(),
      graceUses: 0,
      scope: s0.scope,
      resources: s0.resources,
      state: 'active',
    })
    expect(await isActive(t, rt)).toBe(false)
    expect(await isActive(t, r.body.refresh_token)).toBe(true)
    // Access tokens already issued are not revoked by a refresh (DESIGN.md, Refresh semantics).
    expect(await isActive(t, at)).toBe(true)
  })

  it('RT-02 reuse of a rotated RT after the grace window revokes the whole family', async () => {
    const { at, rt, sid } = await signIn()
    const r1 = await refresh(t, rt)
    expect(r1.status).toBe(200)
    t.clock.advance(30_000)
    const before = dbCounts(t)
    expectOAuthError(await refresh(t, rt), 400, 'invalid_grant', NO_LONGER_VALID)
    expect(dbCounts(t).sessions).toBe(before.sessions)
    await expectFamilyRevoked(sid, r1.body.refresh_token, [at, r1.body.access_token])
  })

  it('RT-03 a grandparent RT is theft at any time, even inside the last rotation window', async () => {
    const { at, rt: rt0, sid } = await signIn()
    const r1 = await refresh(t, rt0)
    t.clock.advance(1000)
    const r2 = await refresh(t, r1.body.refresh_token)
    expect(r2.status).toBe(200)
    t.clock.advance(1000)
    expectOAuthError(await refresh(t, rt0), 400, 'invalid_grant', NO_LONGER_VALID)
    await expectFamilyRevoked(sid, r2.body.refresh_token, [
      at,
      r1.body.access_token,
      r2.body.access_token,
    ])
    const [event] = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(event?.data).toMatchObject({
      cause: 'stale_lineage',
      presentedGeneration: 0,
      currentGeneration: 2,
    })
  })

  it('RT-04 a lost response: the parent retried inside the window returns the current child, no new branch', async () => {
    const { rt: rt0, sid } = await signIn()
    const r1 = await refresh(t, rt0)
    expect(r1.status).toBe(200)
    t.clock.advance(5_000)
    const retry = await refresh(t, rt0)
    expect(retry.status).toBe(200)
    expect(retry.body.refresh_token).toBe(r1.body.refresh_token)
    expect(retry.body.access_token).not.toBe(r1.body.access_token)
    expect(decodeJwt(retry.body.access_token).jti).not.toBe(decodeJwt(r1.body.access_token).jti)
    expect(decodeJwt(retry.body.access_token).sid).toBe(sid)
    const s = await sessionOf(t, sid)
    expect(s).toMatchObject({ state: 'active', generation: 1, graceUses: 1 })
    // The rotation time is where it was: the window is fixed, not restarted by the retry.
    expect(s.rotatedAt).toBe(t.clock.now() - 5_000)
    // The one chain goes on from the child.
    const r2 = await refresh(t, r1.body.refresh_token)
    expect(r2.status).toBe(200)
    expect((await sessionOf(t, sid)).generation).toBe(2)
  })

  // The checklist asks for an audit record of the lost-response retry (cause `fail-to-save`, as in
  // Supabase's TestFailToSaveReuse).
  it('RT-04 a grace-window retry is audited with cause fail-to-save', async () => {
    const { rt: rt0, sid } = await signIn()
    expect((await refresh(t, rt0)).status).toBe(200)
    const before = dbCounts(t).events
    expect((await refresh(t, rt0)).status).toBe(200)
    expect(dbCounts(t).events).toBe(before + 1)
    const events = await t.store.listEvents({ sessionId: sid })
    expect(events.some((e) => e.data.cause === 'fail-to-save')).toBe(true)
  })

  it('RT-04/RT-06 the grace window ends exactly refreshGraceSeconds after the rotation', async () => {
    // Window end - 1 ms: the retry returns the child.
    const a = await signIn()
    const a1 = await refresh(t, a.rt)
    t.clock.advance(30_000 - 1)
    const inside = await refresh(t, a.rt)
    expect(inside.status).toBe(200)
    expect(inside.body.refresh_token).toBe(a1.body.refresh_token)

    // Window end exactly: reuse, the family is revoked.
    const b = await signIn()
    const b1 = await refresh(t, b.rt)
    t.clock.advance(30_000)
    expectOAuthError(await refresh(t, b.rt), 400, 'invalid_grant', NO_LONGER_VALID)
    await expectFamilyRevoked(b.sid, b1.body.refresh_token, [b.at, b1.body.access_token])
    const [event] = await t.store.listEvents({ sessionId: b.sid, type: 'refresh_token_reuse' })
    expect(event?.data.cause).toBe('after_grace_window')
  })

  it('RT-06 the window is fixed from the rotation and never slides with retries', async () => {
    const { rt: rt0, sid } = await signIn()
    const r1 = await refresh(t, rt0)
    for (let i = 0; i < 3; i++) {
      t.clock.advance(9_000)
      expect((await refresh(t, rt0)).body.refresh_token).toBe(r1.body.refresh_token)
    }
    // 27 s of retries; at 30 s after the rotation the same parent is reuse.
    t.clock.advance(3_000)
    expectOAuthError(await refresh(t, rt0), 400, 'invalid_grant', NO_LONGER_VALID)
    expect((await sessionOf(t, sid)).state).toBe('revoked')
  })

  it('REL-15 replays beyond refreshGraceMaxUses inside the window are refused and revoke nothing (limit 2)', async () => {
    const { at, rt: rt0, sid } = await signIn('grace2-app')
    const r1 = await refresh(t, rt0, {}, 'grace2-app')
    expect(r1.status).toBe(200)
    for (let i = 1; i <= 2; i++) {
      const again = await refresh(t, rt0, {}, 'grace2-app')
      expect(again.status).toBe(200)
      expect(again.body.refresh_token).toBe(r1.body.refresh_token)
      expect((await sessionOf(t, sid)).graceUses).toBe(i)
    }
    const before = await sessionOf(t, sid)
    const counts = dbCounts(t)
    // tessera_refresh_reuse_total, summed over its causes.
    const reuseMetric = () =>
      [...t.server.ctx.metrics.reuse.values.values()].reduce((a, b) => a + b, 0)
    const reuseBefore = reuseMetric()
    expectOAuthError(
      await refresh(t, rt0, {}, 'grace2-app'),
      400,
      'invalid_grant',
      'the previous refresh token was replayed 2 times since the rotation: use the current one',
    )
    // Nothing changed: no revocation, no event of any kind, no reuse alarm.
    expect(await sessionOf(t, sid)).toStrictEqual(before)
    expect(dbCounts(t)).toStrictEqual(counts)
    expect(reuseMetric()).toBe(reuseBefore)
    expect(await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toEqual([])
    // The session lives: its tokens work and the child rotates.
    expect(await isActive(t, at)).toBe(true)
    expect(await isActive(t, r1.body.access_token)).toBe(true)
    const r2 = await refresh(t, r1.body.refresh_token, {}, 'grace2-app')
    expect(r2.status).toBe(200)
    // A rotation resets the count: the child's own parent gets its 2 replays.
    expect((await sessionOf(t, sid)).graceUses).toBe(0)
    for (let i = 0; i < 2; i++) {
      const again = await refresh(t, r1.body.refresh_token, {}, 'grace2-app')
      expect(again.body.refresh_token).toBe(r2.body.refresh_token)
    }
    expect((await refresh(t, r1.body.refresh_token, {}, 'grace2-app')).status).toBe(400)
    expect((await sessionOf(t, sid)).state).toBe('active')
  })

  it('REL-15 reuse detection stays as strict: past the limit, the previous token after the window still revokes', async () => {
    const { rt: rt0, sid } = await signIn('grace2-app')
    const r1 = await refresh(t, rt0, {}, 'grace2-app')
    for (let i = 0; i < 3; i++) await refresh(t, rt0, {}, 'grace2-app')
    expect((await sessionOf(t, sid)).state).toBe('active')
    t.clock.advance(30_000)
    expectOAuthError(await refresh(t, rt0, {}, 'grace2-app'), 400, 'invalid_grant', NO_LONGER_VALID)
    expect(await sessionOf(t, sid)).toMatchObject({
      state: 'revoked',
      reason: 'refresh_token_reuse',
    })
    const events = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(events.map((e) => e.data.cause)).toStrictEqual(['after_grace_window'])
    expect((await refresh(t, r1.body.refresh_token, {}, 'grace2-app')).status).toBe(400)
  })

  // REL-15: the default window by application type. A window is how long a stolen previous token
  // still works after a rotation; native apps are suspended mid-refresh (Auth0: >= 180 s), and a
  // token that needs the client's secret is worthless alone.
  for (const [clientId, seconds] of [
    ['web-app', 30],
    ['native-app', 180],
    ['confidential-app', 300],
  ] as const) {
    it(`REL-15 the default grace window of ${clientId} is ${seconds} s`, async () => {
      const auth = clientId === 'confidential-app' ? confidentialAuth() : undefined
      const go = (token: string) =>
        auth
          ? postForm(tokenEndpoint(t), { grant_type: 'refresh_token', refresh_token: token }, auth)
          : refresh(t, token, {}, clientId)
      const c = await mintCode(t, alice, { clientId, scope: 'openid offline_access read' })
      const signedIn = await postForm(tokenEndpoint(t), codeForm(c), auth)
      expect(signedIn.status).toBe(200)
      const rt0 = signedIn.body.refresh_token as string
      const sid = sidOf(rt0)
      const r1 = await go(rt0)
      expect(r1.status).toBe(200)
      t.clock.advance(seconds * 1000 - 1)
      const inside = await go(rt0)
      expect([inside.status, inside.body.refresh_token]).toStrictEqual([200, r1.body.refresh_token])
      t.clock.advance(1)
      expectOAuthError(await go(rt0), 400, 'invalid_grant', NO_LONGER_VALID)
      expect((await sessionOf(t, sid)).state).toBe('revoked')
    })
  }

  it('RT-05 a child displaced by a re-rotation inside the window is theft and revokes the family', async () => {
    // Rotation makes no branches here: the retried parent returns the same child (RT-04). The
    // displaced token of this design is therefore a child whose own successor already rotated:
    // rt1 -> rt2 -> rt3 inside rt1's original window; rt1 is now a grandparent.
    const { at, rt: rt0, sid } = await signIn()
    const r1 = await refresh(t, rt0)
    const retried = await refresh(t, rt0)
    expect(retried.body.refresh_token).toBe(r1.body.refresh_token)
    t.clock.advance(1_000)
    const r2 = await refresh(t, r1.body.refresh_token)
    t.clock.advance(1_000)
    const r3 = await refresh(t, r2.body.refresh_token)
    expect(r3.status).toBe(200)
    t.clock.advance(1_000)
    expectOAuthError(await refresh(t, r1.body.refresh_token), 400, 'invalid_grant', NO_LONGER_VALID)
    await expectFamilyRevoked(sid, r3.body.refresh_token, [
      at,
      r1.body.access_token,
      r2.body.access_token,
      r3.body.access_token,
    ])
  })

  it('a validly signed token of a future generation is reuse and revokes the family', async () => {
    const { rt, sid } = await signIn()
    const s = await sessionOf(t, sid)
    // Only the server secret can mint this: think of a token from a restored database backup.
    const future = new RefreshTokenCodec(Buffer.from(TEST_SECRET)).encode(sid, 5, s.salt)
    expectOAuthError(await refresh(t, future), 400, 'invalid_grant', NO_LONGER_VALID)
    await expectFamilyRevoked(sid, rt, [])
    const [event] = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(event?.data).toMatchObject({ cause: 'future_generation', presentedGeneration: 5 })
  })

  it('unknown and tampered refresh tokens are invalid_grant and revoke nothing', async () => {
    const { rt, sid } = await signIn()
    const r1 = await refresh(t, rt)
    const current = r1.body.refresh_token as string
    const s = await sessionOf(t, sid)
    const [, gen, mac] = /^tsr_[^.]+\.(\d+)\.(.+)$/.exec(current)!
    const flip = (c: string) => (c === 'A' ? 'B' : 'A')
    const codec = new RefreshTokenCodec(Buffer.from('another-secret-another-secret-another-secret'))
    const cases: [string, string][] = [
      ['last MAC character changed', current.slice(0, -1) + flip(current.at(-1)!)],
      [
        'first MAC character changed',
        current.replace(`.${mac}`, `.${flip(mac![0]!)}${mac!.slice(1)}`),
      ],
      ['generation changed, old MAC kept', current.replace(`.${gen}.`, '.0.')],
      ['generation one ahead, old MAC kept', current.replace(`.${gen}.`, '.2.')],
      ['session id of another session', `tsr_${'A'.repeat(22)}.${gen}.${mac}`],
      ['minted with another server secret', codec.encode(sid, s.generation, s.salt)],
      [
        'minted with another salt',
        new RefreshTokenCodec(Buffer.from(TEST_SECRET)).encode(sid, 1, 'x'),
      ],
      ['no prefix', current.slice(4)],
      ['a leading zero in the generation', current.replace(`.${gen}.`, `.0${gen}.`)],
      ['trailing garbage', current + 'x'],
      ['random text', 'not-a-refresh-token'],
    ]
    const before = dbCounts(t)
    for (const [name, token] of cases) {
      const r = await refresh(t, token)
      expect([name, r.status, r.body]).toEqual([
        name,
        400,
        { error: 'invalid_grant', error_description: INVALID },
      ])
    }
    expect(dbCounts(t)).toEqual(before)
    expect(await sessionOf(t, sid)).toEqual(s)
    expect((await refresh(t, current)).status).toBe(200)
  })

  it('RT-16 refresh tokens: RFC 6749 A.17 charset and at least 128 bits of secret entropy', async () => {
    const tokens: string[] = []
    for (let i = 0; i < 128; i++) {
      const r = await signInTokens(t, alice, { scope: 'openid offline_access' })
      tokens.push(r.body.refresh_token)
      if (i < 32) {
        const r1 = await refresh(t, r.body.refresh_token)
        tokens.push(r1.body.refresh_token)
      }
    }
    expect(new Set(tokens).size).toBe(tokens.length)
    const shape = /^tsr_([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]*)\.([A-Za-z0-9_-]{43})$/
    const macs: Buffer[] = []
    for (const tok of tokens) {
      // A.17: refresh-token = 1*VSCHAR (%x20-7E); ours is also URL- and header-safe.
      expect(tok).toMatch(/^[\x20-\x7e]+$/)
      const m = shape.exec(tok)
      expect(m).not.toBeNull()
      macs.push(Buffer.from(m![3]!, 'base64url'))
    }
    // The session id is the public `sid` claim; the secret part is the MAC. It must carry >= 128
    // bits: 32 bytes, every bit position set about half the time across the sample (6 sigma).
    const n = macs.length
    for (const mac of macs) expect(mac.length).toBe(32)
    const sigma = Math.sqrt(n / 4)
    let unbiased = 0
    for (let bit = 0; bit < 256; bit++) {
      let ones = 0
      for (const mac of macs) ones += (mac[bit >> 3]! >> (7 - (bit & 7))) & 1
      if (Math.abs(ones - n / 2) <= 6 * sigma) unbiased++
    }
    expect(unbiased).toBeGreaterThanOrEqual(128)
    expect(unbiased).toBe(256)
    // Shannon estimate over the MAC characters: ~6 bits each, 43 characters.
    const freq = new Map<string, number>()
    let total = 0
    for (const tok of tokens) {
      for (const ch of shape.exec(tok)![3]!.slice(0, 42)) {
        freq.set(ch, (freq.get(ch) ?? 0) + 1)
        total++
      }
    }
    let h = 0
    for (const c of freq.values()) h -= (c / total) * Math.log2(c / total)
    expect(h).toBeGreaterThan(5.9)
    expect(h * 42).toBeGreaterThanOrEqual(128)
    // The session ids are distinct 128-bit values too.
    expect(new Set(tokens.map(sidOf)).size).toBe(128)
  })

  it('RT-17 reuse detection records a security event with family, client, IP and cause', async () => {
    const { rt, sid } = await signIn()
    const r1 = await refresh(t, rt)
    expect(r1.status).toBe(200)
    t.clock.advance(31_000)
    // The thief comes from another address than the user.
    const stolen = await postFormFrom(
      '127.0.0.7',
      tokenEndpoint(t),
      { grant_type: 'refresh_token', refresh_token: rt, client_id: 'web-app' },
      { 'user-agent': 'thief/1.0' },
    )
    expectOAuthError(stolen, 400, 'invalid_grant', NO_LONGER_VALID)
    const events = await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      type: 'refresh_token_reuse',
      at: t.clock.now(),
      userId: alice.id,
      clientId: 'web-app',
      sessionId: sid,
      ip: '127.0.0.7',
      userAgent: 'thief/1.0',
      data: { cause: 'after_grace_window', presentedGeneration: 0, currentGeneration: 1 },
    })
    // No token or secret in the event.
    expect(JSON.stringify(events[0])).not.toContain(rt.slice(4))
    expect(JSON.stringify(events[0])).not.toContain(r1.body.refresh_token.split('.')[2])
    // The user can see it: it is listed under the user.
    const mine = await t.store.listEvents({ userId: alice.id, type: 'refresh_token_reuse' })
    expect(mine.map((e) => e.id)).toContain(events[0]!.id)
    // A second presentation of the dead family records nothing more and changes nothing.
    expect((await refresh(t, rt)).status).toBe(400)
    expect(await t.store.listEvents({ sessionId: sid, type: 'refresh_token_reuse' })).toHaveLength(
      1,
    )
  })
})
