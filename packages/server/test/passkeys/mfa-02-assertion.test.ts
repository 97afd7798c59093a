import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isoCBOR } from '@simplewebauthn/server/helpers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyAssertion } from '../../src/passkeys/passkey-ceremony.js'
import { relyingParty, type RelyingParty } from '../../src/passkeys/relying-party.js'
import { consumeChallenge, type WebAuthnChallenge } from '../../src/passkeys/webauthn-challenge.js'
import type { UserRecord } from '../../src/store/types.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

/**
 * MFA-02 at the assertion check, with a software authenticator (a P-256 key and hand-built
 * authenticator data and client data, as W3C WebAuthn Level 3 §6.1 and §5.8.1 lay them out): the
 * cases a browser's real authenticator will not produce on demand (another origin, another RP ID,
 * no user verification), next to a good assertion that passes, so each refusal is for its one
 * difference. The browser flows are in passkeys-browser.test.ts.
 */

const sha256 = (b: Buffer | string): Buffer => createHash('sha256').update(b).digest()
const b64u = (b: Buffer | Uint8Array): string => Buffer.from(b).toString('base64url')

/** Flags of authenticator data: UP (user present) and UV (user verified). */
const UP = 0x01
const UV = 0x04

let t: TestServer
let rp: RelyingParty
let alice: UserRecord
let bob: UserRecord
let key: KeyObject
const credentialId = b64u(randomBytes(16))

beforeAll(async () => {
  t = await startTestServer({ issuerHost: 'localhost' })
  rp = relyingParty(t.server.ctx.config.issuer)!
  alice = await t.createUser('alice')
  bob = await t.createUser('bob')
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  key = pair.privateKey
  const jwk = pair.publicKey.export({ format: 'jwk' })
  // COSE_Key (RFC 9053 §7.1): kty EC2, alg ES256, crv P-256, x, y.
  const cose = isoCBOR.encode(
    new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x!, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y!, 'base64url'))],
    ]),
  )
  await t.store.createPasskey(
    {
      id: credentialId,
      userId: alice.id,
      publicKey: b64u(cose),
      counter: 0,
      transports: ['internal'],
      backupEligible: false,
      backupState: false,
      name: 'Software key',
      createdAt: t.clock.now(),
      lastUsedAt: null,
    },
    t.server.ctx.events.make('passkey_registered', { userId: alice.id }),
  )
})
afterAll(async () => {
  await t?.close()
})

function challenge(userId: string | null = null): WebAuthnChallenge {
  return {
    challenge: b64u(randomBytes(32)),
    kind: 'authenticate',
    binding: 'tx',
    userId,
    expiresAt: t.clock.now() + 60_000,
  }
}

interface Variation {
  origin?: string
  rpId?: string
  flags?: number
  counter?: number
  type?: string
}

/** An assertion of the software authenticator over `c`, with one thing changed. */
function assertion(c: WebAuthnChallenge, v: Variation = {}): string {
  const counter = Buffer.alloc(4)
  counter.writeUInt32BE(v.counter ?? 1)
  const authenticatorData = Buffer.concat([
    sha256(v.rpId ?? rp.id),
    Buffer.from([v.flags ?? UP | UV]),
    counter,
  ])
  const clientDataJSON = Buffer.from(
    JSON.stringify({
      type: v.type ?? 'webauthn.get',
      challenge: c.challenge,
      origin: v.origin ?? rp.origin,
      crossOrigin: false,
    }),
  )
  const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), key)
  return JSON.stringify({
    id: credentialId,
    rawId: credentialId,
    type: 'public-key',
    response: {
      clientDataJSON: b64u(clientDataJSON),
      authenticatorData: b64u(authenticatorData),
      signature: b64u(signature),
      userHandle: b64u(Buffer.from(alice.id)),
    },
    clientExtensionResults: {},
  })
}

describe('MFA-02 WebAuthn assertions', () => {
  it.each<[string, Variation]>([
    ['another origin', { origin: 'https://evil.example' }],
    ['another origin on the same host (other port)', { origin: 'http://localhost:1' }],
    ['another RP ID', { rpId: 'evil.example' }],
    ['user verification missing (UP only)', { flags: UP }],
    ['user presence missing', { flags: UV }],
    ['a registration response type', { type: 'webauthn.create' }],
  ])('%s: refused (invalid_assertion), the challenge not used up', async (_, variation) => {
    const c = challenge()
    const r = await verifyAssertion(t.server.ctx, rp, c, assertion(c, variation))
    expect(r).toMatchObject({ ok: false, reason: 'invalid_assertion' })
    // The failed attempt did not use up the challenge: it can still be recorded once.
    expect(await consumeChallenge(t.server.ctx, c)).toBe(true)
    expect((await t.store.getPasskey(credentialId))!.counter).toBe(0)
  })

  it('a username-first challenge for another user: refused (wrong_user)', async () => {
    const c = challenge(bob.id)
    const r = await verifyAssertion(t.server.ctx, rp, c, assertion(c))
    expect(r).toMatchObject({ ok: false, reason: 'wrong_user' })
  })

  it('the good assertion passes; then the same counter again is a regression, a higher one passes', async () => {
    const first = challenge(alice.id)
    const ok = await verifyAssertion(t.server.ctx, rp, first, assertion(first, { counter: 1 }))
    expect(ok).toMatchObject({ ok: true, user: { id: alice.id } })
    expect((await t.store.getPasskey(credentialId))!.counter).toBe(1)

    const same = challenge()
    expect(
      await verifyAssertion(t.server.ctx, rp, same, assertion(same, { counter: 1 })),
    ).toMatchObject({ ok: false, reason: 'counter_regression', reported: 1 })
    const lower = challenge()
    expect(
      await verifyAssertion(t.server.ctx, rp, lower, assertion(lower, { counter: 0 })),
    ).toMatchObject({ ok: false, reason: 'counter_regression', reported: 0 })
    expect((await t.store.getPasskey(credentialId))!.counter).toBe(1)

    const higher = challenge()
    expect(
      await verifyAssertion(t.server.ctx, rp, higher, assertion(higher, { counter: 2 })),
    ).toMatchObject({ ok: true })
    // The same challenge and assertion again: used up.
    expect(
      await verifyAssertion(t.server.ctx, rp, higher, assertion(higher, { counter: 3 })),
    ).toMatchObject({ ok: false, reason: 'challenge_reused' })
  })
})
