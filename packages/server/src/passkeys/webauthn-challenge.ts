/**
 * WebAuthn challenges, sealed rather than stored: the server hands out an HMAC-signed, expiring
 * blob holding 32 random bytes (the challenge the authenticator signs), the ceremony (`register` or
 * `authenticate`), what it is bound to (the login transaction or the browser session) and, when
 * known, the user. Nothing is written when options are asked for, so an unauthenticated visitor
 * cannot fill a table. A challenge is accepted once: after the response verifies, the challenge's
 * hash is recorded until its expiry (`Store.useWebAuthnChallenge`) and a second use is refused.
 * The keys are the ring's `webauthn-challenge` keys (lib/secret-ring.ts), used for nothing else.
 *
 * @example
 * const codec = new WebAuthnChallengeCodec(config.secret)
 * const { sealed, challenge } = codec.issue('authenticate', tx.id, null, clock.now(), random)
 * const c = codec.open(sealed, 'authenticate', tx.id, clock.now()) // undefined: forged, expired, misbound
 *
 * @see https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges
 */
import type { ServerContext } from '../context.js'
import { hmac, sha256b64u } from '../lib/crypto.js'
import type { Random } from '../lib/random.js'
import { matchesAny, purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'

/** Seconds a ceremony's challenge stays usable. */
export const WEBAUTHN_CHALLENGE_TTL_SECONDS = 300

const MAX_SEALED = 2048

export type CeremonyKind = 'register' | 'authenticate'

export interface WebAuthnChallenge {
  /** The challenge as the authenticator signs it, base64url. */
  challenge: string
  kind: CeremonyKind
  binding: string
  /** The user the ceremony is for (registration, username-first sign-in), else null. */
  userId: string | null
  /** Milliseconds since the epoch. */
  expiresAt: number
}

interface Payload {
  c: string
  k: CeremonyKind
  b: string
  u: string | null
  e: number
}

export class WebAuthnChallengeCodec {
  readonly #keys: PurposeKeys

  /** Seals under the first secret of the ring, opens what any of them sealed. */
  constructor(secrets: Secrets) {
    this.#keys = purposeKeys(secrets, 'webauthn-challenge')
  }

  issue(
    kind: CeremonyKind,
    binding: string,
    userId: string | null,
    now: number,
    random: Random,
  ): { sealed: string; challenge: Uint8Array<ArrayBuffer> } {
    const bytes = random.bytes(32)
    const payload: Payload = {
      c: bytes.toString('base64url'),
      k: kind,
      b: binding,
      u: userId,
      e: now + WEBAUTHN_CHALLENGE_TTL_SECONDS * 1000,
    }
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
    return { sealed: `${body}.${mac(this.#keys.current, body)}`, challenge: Uint8Array.from(bytes) }
  }

  /** The challenge, or undefined when it is malformed, forged, expired, of another ceremony or
   * bound to something else. */
  open(
    sealed: string,
    kind: CeremonyKind,
    binding: string,
    now: number,
  ): WebAuthnChallenge | undefined {
    if (sealed.length > MAX_SEALED) return undefined
    const dot = sealed.indexOf('.')
    if (dot < 0) return undefined
    const body = sealed.slice(0, dot)
    if (!matchesAny(this.#keys, sealed.slice(dot + 1), (k) => mac(k, body))) return undefined
    let p: Payload
    try {
      p = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload
    } catch {
      return undefined
    }
    if (p.k !== kind || p.b !== binding || typeof p.c !== 'string' || typeof p.e !== 'number') {
      return undefined
    }
    if (now >= p.e) return undefined
    return {
      challenge: p.c,
      kind: p.k,
      binding: p.b,
      userId: typeof p.u === 'string' ? p.u : null,
      expiresAt: p.e,
    }
  }
}

function mac(key: Buffer, body: string): string {
  return hmac(key, 'webauthn-challenge', body).toString('base64url')
}

/** Records the challenge as used; false when it was used before (a replay). */
export function consumeChallenge(ctx: ServerContext, c: WebAuthnChallenge): Promise<boolean> {
  return ctx.store.useWebAuthnChallenge(
    `${c.kind}:${sha256b64u(c.challenge)}`,
    ctx.clock.now(),
    c.expiresAt,
  )
}
