/**
 * BIO-01: server-verified biometric step-up for native apps, against a real server, with a
 * software ES256 key standing in for the Secure Enclave / Android Keystore key. A good signature
 * raises the session (new auth_time, amr + hwk, user), and the next refresh's token satisfies a
 * `maxAge` step-up requirement of @tessera/verify; a replayed challenge, a wrong key, a removed
 * device and an expired challenge (fake clock) are each refused with a security event.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { checkAuthentication } from '@tessera/verify'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { accountClients, signIn, type ApiResponse } from '../account/support.js'
import { adminApi, API_ACTOR, startAdminServer } from '../admin/admin-helpers.js'
import { jsonOrText, postForm, sessionOf } from '../helpers/grants.js'
import type { TestServer } from '../helpers/test-server.js'

let t: TestServer
let alice: UserRecord
let bob: UserRecord

beforeAll(async () => {
  t = await startAdminServer({
    issuerHost: 'localhost',
    clients: accountClients.filter((c) => c.id !== 'cookie-spa'),
  })
  alice = await t.createUser('alice')
  bob = await t.createUser('bob')
})
afterAll(async () => {
  await t?.close()
})

/** A software P-256 key standing in for the device's biometric-protected key. */
function deviceKey(): { privateKey: KeyObject; spki: string; jwk: Record<string, unknown> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return {
    privateKey,
    spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    jwk: publicKey.export({ format: 'jwk' }),
  }
}

/** ES256 over the challenge string, DER-encoded and base64, as a Keystore / Secure Enclave key signs. */
const signDer = (k: KeyObject, payload: string) =>
  sign('sha256', Buffer.from(payload, 'utf8'), { key: k, dsaEncoding: 'der' }).toString('base64')

async function call(
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<ApiResponse> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

async function register(token: string, name: string, key: { spki: string }): Promise<string> {
  const r = await call('POST', '/account/device-keys', token, { name, public_key: key.spki })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
  return r.body.id as string
}

async function challenge(token: string, deviceKeyId: string): Promise<string> {
  const r = await call('POST', '/account/step-up/challenge', token, { device_key_id: deviceKeyId })
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  expect(r.body.expires_in).toBe(120)
  return r.body.challenge as string
}

const answer = (token: string, c: string, signature: string) =>
  call('POST', '/account/step-up', token, { challenge: c, signature })

async function lastEvent(type: string, userId: string) {
  const [e] = await t.store.listEvents({ type: type as never, userId, limit: 1 })
  return e
}

async function failuresOf(userId: string): Promise<number> {
  return (await t.store.listEvents({ type: 'device_step_up_failure', userId, limit: 1000 })).length
}

/** A refusal: 400 with `error`, the session untouched, and one more failure event with `reason`. */
async function expectRefused(
  r: ApiResponse,
  sid: string,
  before: { authTime: number; amr: string[]; failures: number },
  error: string,
  reason: string,
) {
  expect(r.status, JSON.stringify(r.body)).toBe(400)
  expect(r.body.error).toBe(error)
  const s = await sessionOf(t, sid)
  expect(s.authTime).toBe(before.authTime)
  expect(s.amr).toEqual(before.amr)
  expect(await failuresOf(s.userId)).toBe(before.failures + 1)
  // The newest failure of this session (tests advance the clock between failures of one session).
  const all = await t.store.listEvents({
    type: 'device_step_up_failure',
    userId: s.userId,
    limit: 1000,
  })
  const e = all.find((x) => x.sessionId === sid)
  expect(e!.data.reason).toBe(reason)
}

async function snapshot(sid: string) {
  const s = await sessionOf(t, sid)
  return { authTime: s.authTime, amr: s.amr, failures: await failuresOf(s.userId) }
}

describe('device keys: registration, listing, removal', () => {
  it('registers an ES256 key from SPKI or JWK once, lists it without the key, refuses other keys', async () => {
    const { accessToken } = await signIn(t, bob)
    const k = deviceKey()
    const id = await register(accessToken, "Bob's phone", k)
    const again = await call('POST', '/account/device-keys', accessToken, {
      name: 'Same key',
      public_jwk: { kty: 'EC', crv: 'P-256', x: k.jwk.x, y: k.jwk.y },
    })
    expect(again.status).toBe(409)

    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey
    for (const bad of [
      {
        name: 'RSA 1024',
        public_key: rsa.export({ format: 'der', type: 'spki' }).toString('base64'),
      },
      { name: 'Private', public_jwk: { ...deviceKey().privateKey.export({ format: 'jwk' }) } },
      { name: 'Off curve', public_jwk: { kty: 'EC', crv: 'P-256', x: k.jwk.x, y: k.jwk.x } },
      { name: 'Both', public_key: k.spki, public_jwk: k.jwk },
      {
        name: 'P-384',
        public_jwk: generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
          format: 'jwk',
        }),
      },
      { name: '', public_key: deviceKey().spki },
      [],
    ]) {
      const r = await call('POST', '/account/device-keys', accessToken, bad)
      expect(r.status, JSON.stringify(bad)).toBe(400)
      expect(r.body.error).toBe('invalid_request')
    }
    const list = await call('GET', '/account/device-keys', accessToken)
    expect(list.status).toBe(200)
    expect(list.body.device_keys).toEqual([
      expect.objectContaining({ id, name: "Bob's phone", last_used_at: null }),
    ])
    expect(JSON.stringify(list.body)).not.toContain(k.jwk.x as string)
    expect((await lastEvent('device_key_registered', bob.id))!.data.deviceKeyId).toBe(id)
  })

  it('without account:sessions: 403; another user cannot remove the key (404)', async () => {
    const narrow = await signIn(t, bob, { clientId: 'other-app' })
    const r = await call('GET', '/account/device-keys', narrow.accessToken)
    expect(r.status).toBe(403)
    const [key] = await t.store.listDeviceKeys(bob.id)
    const { accessToken } = await signIn(t, alice)
    expect((await call('DELETE', `/account/device-keys/${key!.id}`, accessToken)).status).toBe(404)
    expect(await t.store.getDeviceKey(key!.id)).toBeDefined()
  })

  it("the Admin API lists and removes a user's device keys with an event naming the admin", async () => {
    const [key] = await t.store.listDeviceKeys(bob.id)
    const list = await adminApi(t, 'GET', `/users/${bob.id}/device-keys`)
    expect(list.status).toBe(200)
    expect(list.body.deviceKeys).toEqual([
      {
        id: key!.id,
        userId: bob.id,
        name: "Bob's phone",
        jkt: key!.jkt,
        createdAt: key!.createdAt,
        lastUsedAt: null,
      },
    ])
    const r = await adminApi(t, 'DELETE', `/users/${bob.id}/device-keys/${key!.id}`)
    expect(r.status).toBe(200)
    expect(await t.store.getDeviceKey(key!.id)).toBeUndefined()
    expect((await lastEvent('device_key_removed', bob.id))!.data).toEqual({
      deviceKeyId: key!.id,
      actor: API_ACTOR,
    })
    expect((await adminApi(t, 'DELETE', `/users/${bob.id}/device-keys/${key!.id}`)).status).toBe(
      404,
    )
  })
})

describe('BIO-01 biometric step-up', () => {
  it('BIO-01 a good signature raises the session: new auth_time, amr hwk+user; after a refresh a maxAge route accepts', async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const k = deviceKey()
    const id = await register(s.accessToken, 'Alice phone', k)
    const signedInAt = (await sessionOf(t, s.sid)).authTime
    t.clock.advance(10 * 60_000)

    // The old sign-in is too old for a route that wants one within the last 60 seconds.
    const stale = decodeJwt(s.accessToken)
    expect(() =>
      checkAuthentication({ claims: stale } as never, { maxAge: 60 }, t.clock.now()),
    ).toThrow(/within the last 60 seconds/)

    const c = await challenge(s.accessToken, id)
    const r = await answer(s.accessToken, c, signDer(k.privateKey, c))
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body).toEqual({
      amr: ['pwd', 'hwk', 'user'],
      acr: 'urn:tessera:acr:mfa',
      auth_time: Math.floor(t.clock.now() / 1000),
    })
    const raised = await sessionOf(t, s.sid)
    expect(raised.authTime).toBe(t.clock.now())
    expect(raised.authTime).toBeGreaterThan(signedInAt)
    expect(raised.amr).toEqual(['pwd', 'hwk', 'user'])
    const ok = await lastEvent('device_step_up_success', alice.id)
    expect(ok!.sessionId).toBe(s.sid)
    expect(ok!.data).toMatchObject({ deviceKeyId: id, amr: ['pwd', 'hwk', 'user'] })
    expect((await t.store.getDeviceKey(id))!.lastUsedAt).toBe(t.clock.now())

    const refreshed = await postForm(`${t.url}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: s.refreshToken,
      client_id: 'native-app',
    })
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200)
    const claims = decodeJwt(refreshed.body.access_token as string)
    expect(claims.auth_time).toBe(Math.floor(t.clock.now() / 1000))
    expect(claims.amr).toEqual(['pwd', 'hwk', 'user'])
    t.clock.advance(30_000)
    expect(() =>
      checkAuthentication(
        { claims } as never,
        { maxAge: 60, acrValues: ['urn:tessera:acr:mfa'] },
        t.clock.now(),
      ),
    ).not.toThrow()
    // A raw r||s signature (WebCrypto's encoding) is accepted too.
    const c2 = await challenge(s.accessToken, id)
    const raw = sign('sha256', Buffer.from(c2), { key: k.privateKey, dsaEncoding: 'ieee-p1363' })
    expect((await answer(s.accessToken, c2, raw.toString('base64url'))).status).toBe(200)
  })

  it('an RSA key and RS256 signature, as react-native-biometrics makes them, step up too', async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64')
    const id = await register(s.accessToken, 'Android phone', { spki })
    t.clock.advance(1000)
    const c = await challenge(s.accessToken, id)
    const rs256 = sign('sha256', Buffer.from(c, 'utf8'), privateKey).toString('base64')
    const r = await answer(s.accessToken, c, rs256)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect((await sessionOf(t, s.sid)).authTime).toBe(t.clock.now())
  })

  it('BIO-01 a replayed challenge is refused with replayed_challenge', async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const k = deviceKey()
    const id = await register(s.accessToken, 'Replay phone', k)
    const c = await challenge(s.accessToken, id)
    const sig = signDer(k.privateKey, c)
    expect((await answer(s.accessToken, c, sig)).status).toBe(200)
    const before = await snapshot(s.sid)
    t.clock.advance(1000)
    await expectRefused(
      await answer(s.accessToken, c, sig),
      s.sid,
      before,
      'invalid_grant',
      'replayed_challenge',
    )
  })

  it("BIO-01 a signature by another of the user's keys is refused with wrong_key; by an unknown key, bad_signature", async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const phone = deviceKey()
    const tablet = deviceKey()
    const phoneId = await register(s.accessToken, 'Phone', phone)
    await register(s.accessToken, 'Tablet', tablet)
    const before = await snapshot(s.sid)
    t.clock.advance(1000)
    const c = await challenge(s.accessToken, phoneId)
    await expectRefused(
      await answer(s.accessToken, c, signDer(tablet.privateKey, c)),
      s.sid,
      before,
      'invalid_grant',
      'wrong_key',
    )
    t.clock.advance(1000) // events of one millisecond have no order
    const c2 = await challenge(s.accessToken, phoneId)
    await expectRefused(
      await answer(s.accessToken, c2, signDer(deviceKey().privateKey, c2)),
      s.sid,
      { ...before, failures: before.failures + 1 },
      'invalid_grant',
      'bad_signature',
    )
    // The refused challenge was spent: the right signature afterwards is a replay.
    t.clock.advance(1000)
    const late = await answer(s.accessToken, c2, signDer(phone.privateKey, c2))
    expect(late.status).toBe(400)
    expect((await lastEvent('device_step_up_failure', alice.id))!.data.reason).toBe(
      'replayed_challenge',
    )
  })

  it('BIO-01 a removed device is refused with server_credential_revoked, for the challenge and the answer', async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const k = deviceKey()
    const id = await register(s.accessToken, 'Lost phone', k)
    const c = await challenge(s.accessToken, id)
    expect((await call('DELETE', `/account/device-keys/${id}`, s.accessToken)).status).toBe(204)
    expect((await lastEvent('device_key_removed', alice.id))!.data).toMatchObject({
      deviceKeyId: id,
    })
    const before = await snapshot(s.sid)
    t.clock.advance(1000)
    await expectRefused(
      await answer(s.accessToken, c, signDer(k.privateKey, c)),
      s.sid,
      before,
      'server_credential_revoked',
      'removed_device',
    )
    t.clock.advance(1000)
    const again = await call('POST', '/account/step-up/challenge', s.accessToken, {
      device_key_id: id,
    })
    expect(again.status).toBe(400)
    expect(again.body.error).toBe('server_credential_revoked')
    expect((await lastEvent('device_step_up_failure', alice.id))!.data.reason).toBe(
      'removed_device',
    )
  })

  it('BIO-01 an expired challenge is refused with expired_challenge (fake clock)', async () => {
    const s = await signIn(t, alice, { clientId: 'native-app' })
    const k = deviceKey()
    const id = await register(s.accessToken, 'Slow phone', k)
    const c = await challenge(s.accessToken, id)
    const before = await snapshot(s.sid)
    t.clock.advance(120_000)
    const r = await answer(s.accessToken, c, signDer(k.privateKey, c))
    await expectRefused(r, s.sid, before, 'invalid_grant', 'expired_challenge')
  })

  it('a challenge issued to another session, a forged one and a malformed body are refused', async () => {
    const a = await signIn(t, alice, { clientId: 'native-app' })
    const b = await signIn(t, alice, { clientId: 'native-app' })
    const k = deviceKey()
    const id = await register(a.accessToken, 'Shared phone', k)
    const c = await challenge(a.accessToken, id)
    const before = await snapshot(b.sid)
    await expectRefused(
      await answer(b.accessToken, c, signDer(k.privateKey, c)),
      b.sid,
      before,
      'invalid_grant',
      'session_mismatch',
    )
    t.clock.advance(1000)
    const forged = `${c.slice(0, -4)}AAAA`
    await expectRefused(
      await answer(b.accessToken, forged, signDer(k.privateKey, forged)),
      b.sid,
      { ...before, failures: before.failures + 1 },
      'invalid_grant',
      'invalid_challenge',
    )
    const bad = await call('POST', '/account/step-up', a.accessToken, { challenge: c })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toBe('invalid_request')
    // The original session can still use its challenge: the refusals did not spend it.
    expect((await answer(a.accessToken, c, signDer(k.privateKey, c))).status).toBe(200)
  })
})
