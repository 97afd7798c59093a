/**
 * Biometric step-up challenges, sealed like the WebAuthn ones (passkeys/webauthn-challenge.ts):
 * an HMAC-signed, expiring blob holding 32 random bytes, the session it was issued to and the
 * device key that must sign it. Nothing is written when a challenge is issued; a challenge is
 * accepted once (its hash goes to the used-challenge table until it expires). The keys are the
 * ring's `device-step-up` keys (lib/secret-ring.ts), used for nothing else.
 *
 * @example
 * const codec = new StepUpChallengeCodec(config.secrets)
 * const sealed = codec.issue(session.id, key.id, clock.now(), random)
 * const r = codec.open(sealed, session.id, clock.now()) // { ok: false, reason: 'expired_challenge' }
 */
import type { ServerContext } from '../context.js'
import { hmac, sha256b64u } from '../lib/crypto.js'
import type { Random } from '../lib/random.js'
import { matchesAny, purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'

/** Seconds a step-up challenge stays usable: long enough for a biometric prompt. */
export const STEP_UP_CHALLENGE_TTL_SECONDS = 120

const MAX_SEALED = 1024

export interface StepUpChallenge {
  sealed: string
  sessionId: string
  deviceKeyId: string
  /** Milliseconds since the epoch. */
  expiresAt: number
}

export type OpenedChallenge =
  | { ok: true; challenge: StepUpChallenge }
  | { ok: false; reason: 'invalid_challenge' | 'expired_challenge' | 'session_mismatch' }

interface Payload {
  c: string
  s: string
  d: string
  e: number
}

export class StepUpChallengeCodec {
  readonly #keys: PurposeKeys

  constructor(secrets: Secrets) {
    this.#keys = purposeKeys(secrets, 'device-step-up')
  }

  issue(sessionId: string, deviceKeyId: string, now: number, random: Random): StepUpChallenge {
    const expiresAt = now + STEP_UP_CHALLENGE_TTL_SECONDS * 1000
    const payload: Payload = {
      c: random.bytes(32).toString('base64url'),
      s: sessionId,
      d: deviceKeyId,
      e: expiresAt,
    }
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
    return { sealed: `${body}.${mac(this.#keys.current, body)}`, sessionId, deviceKeyId, expiresAt }
  }

  /** The challenge, if it is ours, unexpired and issued to `sessionId`. */
  open(sealed: string, sessionId: string, now: number): OpenedChallenge {
    const invalid = { ok: false, reason: 'invalid_challenge' } as const
    if (sealed.length > MAX_SEALED) return invalid
    const dot = sealed.indexOf('.')
    if (dot < 0) return invalid
    const body = sealed.slice(0, dot)
    if (!matchesAny(this.#keys, sealed.slice(dot + 1), (k) => mac(k, body))) return invalid
    let p: Payload
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload
    } catch {
      return invalid
    }
    if (typeof p.s !== 'string' || typeof p.d !== 'string' || typeof p.e !== 'number') {
      return invalid
    }
    if (now >= p.e) return { ok: false, reason: 'expired_challenge' }
    if (p.s !== sessionId) return { ok: false, reason: 'session_mismatch' }
    return { ok: true, challenge: { sealed, sessionId: p.s, deviceKeyId: p.d, expiresAt: p.e } }
  }
}

function mac(key: Buffer, body: string): string {
  return hmac(key, 'device-step-up', body).toString('base64url')
}

/** Records the challenge as used; false when it was used before (a replay). */
export function consumeStepUpChallenge(ctx: ServerContext, c: StepUpChallenge): Promise<boolean> {
  return ctx.store.useWebAuthnChallenge(
    `device-step-up:${sha256b64u(c.sealed)}`,
    ctx.clock.now(),
    c.expiresAt,
  )
}
