/**
 * The two WebAuthn ceremonies over @simplewebauthn/server: options for the browser, and the
 * verification of its answer against the sealed challenge, the issuer's origin and RP ID, with
 * user verification required (W3C WebAuthn Level 3 §7.1, §7.2).
 *
 * The signature counter is compared here rather than in the library, so a regression is told
 * apart from a bad signature and becomes a security event (MFA-02): the library gets counter 0,
 * which makes it skip its own comparison, and the stored counter moves by compare-and-set.
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential
 * @see https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server'
import type { ServerContext } from '../context.js'
import type { PasskeyRecord, UserRecord } from '../store/types.js'
import type { RelyingParty } from './relying-party.js'
import {
  consumeChallenge,
  WEBAUTHN_CHALLENGE_TTL_SECONDS,
  type WebAuthnChallenge,
} from './webauthn-challenge.js'
import { AMR_PASSKEY } from '../mfa/second-factor.js'

/** Authentication methods of a passkey sign-in (RFC 8176 §2): a proof of possession of a
 * hardware-bound key, with user verification (PIN or biometric) by the authenticator. */
export const PASSKEY_AMR: string[] = [...AMR_PASSKEY]

/** Longest passkey name. */
export const PASSKEY_NAME_MAX = 64

/** The WebAuthn user handle of a user: the bytes of the user's random id (no personal data). */
export function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId, 'utf8'))
}

export function registrationOptions(
  rp: RelyingParty,
  user: UserRecord,
  existing: PasskeyRecord[],
  challenge: Uint8Array<ArrayBuffer>,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.username,
    userDisplayName: user.name ?? user.username,
    userID: userHandle(user.id),
    challenge,
    timeout: WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({
      id: p.id,
      transports: p.transports as AuthenticatorTransport[],
    })),
    authenticatorSelection: {
      residentKey: 'required',
      requireResidentKey: true,
      userVerification: 'required',
    },
  })
}

export function authenticationOptions(
  rp: RelyingParty,
  allow: PasskeyRecord[],
  challenge: Uint8Array<ArrayBuffer>,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    challenge,
    timeout: WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    userVerification: 'required',
    allowCredentials: allow.map((p) => ({
      id: p.id,
      transports: p.transports as AuthenticatorTransport[],
    })),
  })
}

export type RegistrationResult =
  | { ok: true; passkey: PasskeyRecord }
  | { ok: false; reason: 'malformed' | 'invalid_attestation' | 'challenge_reused' }

/** Verifies a `navigator.credentials.create()` answer (JSON) for `userId`, and uses up the
 * challenge; the caller stores the passkey. */
export async function verifyRegistration(
  ctx: ServerContext,
  rp: RelyingParty,
  c: WebAuthnChallenge,
  userId: string,
  raw: string,
  name: string,
): Promise<RegistrationResult> {
  const response = parseCredential<RegistrationResponseJSON>(raw)
  if (!response) return { ok: false, reason: 'malformed' }
  let info
  try {
    const v = await verifyRegistrationResponse({
      response,
      expectedChallenge: c.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
    })
    if (!v.verified) return { ok: false, reason: 'invalid_attestation' }
    info = v.registrationInfo
  } catch {
    return { ok: false, reason: 'invalid_attestation' }
  }
  if (!(await consumeChallenge(ctx, c))) return { ok: false, reason: 'challenge_reused' }
  return {
    ok: true,
    passkey: {
      id: info.credential.id,
      userId,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: info.credential.transports ?? [],
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backupState: info.credentialBackedUp,
      name,
      createdAt: ctx.clock.now(),
      lastUsedAt: null,
    },
  }
}

export type AssertionFailure =
  | 'malformed'
  | 'unknown_passkey'
  | 'wrong_user'
  | 'invalid_assertion'
  | 'challenge_reused'
  | 'counter_regression'
  | 'concurrent_use'
  | 'user_unavailable'

export type AssertionResult =
  | { ok: true; user: UserRecord; passkey: PasskeyRecord }
  | {
      ok: false
      reason: AssertionFailure
      passkey?: PasskeyRecord
      /** The counter the authenticator reported (counter_regression). */
      reported?: number
    }

/**
 * Verifies a `navigator.credentials.get()` answer (JSON): a registered passkey (of the challenge's
 * user, for a username-first sign-in), a valid signature over the challenge from the issuer's
 * origin and RP ID with user verification, the challenge unused, the counter moved forward.
 */
export async function verifyAssertion(
  ctx: ServerContext,
  rp: RelyingParty,
  c: WebAuthnChallenge,
  raw: string,
): Promise<AssertionResult> {
  const response = parseCredential<AuthenticationResponseJSON>(raw)
  if (!response) return { ok: false, reason: 'malformed' }
  const passkey = await ctx.store.getPasskey(response.id)
  if (!passkey) return { ok: false, reason: 'unknown_passkey' }
  const handle = response.response.userHandle
  if (
    (c.userId !== null && passkey.userId !== c.userId) ||
    (handle !== undefined &&
      handle !== Buffer.from(userHandle(passkey.userId)).toString('base64url'))
  ) {
    return { ok: false, reason: 'wrong_user', passkey }
  }
  let info
  try {
    const v = await verifyAuthenticationResponse({
      response,
      expectedChallenge: c.challenge,
      expectedOrigin: rp.origin,
      expectedRPID: rp.id,
      requireUserVerification: true,
      // 0: the library skips its counter check; ours below records a regression as an event.
      credential: {
        id: passkey.id,
        publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')),
        counter: 0,
        transports: passkey.transports,
      },
    })
    if (!v.verified) return { ok: false, reason: 'invalid_assertion', passkey }
    info = v.authenticationInfo
  } catch {
    return { ok: false, reason: 'invalid_assertion', passkey }
  }
  if (!(await consumeChallenge(ctx, c))) return { ok: false, reason: 'challenge_reused', passkey }
  const reported = info.newCounter
  // W3C WebAuthn Level 3 §7.2 step 22: an authenticator that counts must count up; a counter at or
  // below the stored one suggests a cloned authenticator.
  if ((reported > 0 || passkey.counter > 0) && reported <= passkey.counter) {
    return { ok: false, reason: 'counter_regression', passkey, reported }
  }
  const moved = await ctx.store.usePasskey(passkey.id, passkey.counter, {
    counter: reported,
    backupState: info.credentialBackedUp,
    now: ctx.clock.now(),
  })
  if (!moved) return { ok: false, reason: 'concurrent_use', passkey }
  const user = await ctx.store.getUser(passkey.userId)
  if (!user || user.disabled) return { ok: false, reason: 'user_unavailable', passkey }
  return { ok: true, user, passkey }
}

/** The credential JSON a page posted, shaped enough for the library to take over. */
function parseCredential<T extends { id: string; type: string; response: object }>(
  raw: string,
): T | undefined {
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const o = v as Record<string, unknown>
  if (typeof o.id !== 'string' || !/^[A-Za-z0-9_-]{1,1366}$/.test(o.id)) return undefined
  if (o.type !== 'public-key' || typeof o.response !== 'object' || o.response === null) {
    return undefined
  }
  if (typeof o.rawId !== 'string') return undefined
  if (typeof o.clientExtensionResults !== 'object' || o.clientExtensionResults === null) {
    o.clientExtensionResults = {}
  }
  return o as T
}
