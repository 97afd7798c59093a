/**
 * The pending authorization request while the user signs in, kept stateless: the request's
 * parameters in an HMAC-signed, expiring blob that travels in the sign-in page's URL and hidden
 * field. Nothing is stored until the user has authenticated, so an unauthenticated visitor cannot
 * fill a table. The key is `deriveKey(secret, 'login-transaction')`, used for nothing else; the
 * first secret of the ring seals, every one opens.
 *
 * @example
 * const codec = new LoginTransactionCodec(config.secrets)
 * const sealed = codec.seal(params, clock.now(), random)
 * const tx = codec.open(sealed, clock.now()) // undefined when forged or expired
 */
import { hmac } from '../lib/crypto.js'
import { matchesAny, purposeKeys, type PurposeKeys, type Secrets } from '../lib/secret-ring.js'
import type { Params } from '../http/form.js'
import { randomId, type Random } from '../lib/random.js'

/** Seconds a sign-in form stays usable. */
export const LOGIN_TRANSACTION_TTL_SECONDS = 900

/** Largest sealed transaction accepted, in characters (the request was capped well below). */
const MAX_SEALED = 16_384

export interface LoginTransaction {
  /** Random id, to which the form's CSRF token is bound. */
  id: string
  /** The authorization request's parameters. */
  params: Params
  /** Milliseconds since the epoch after which the form is refused. */
  expiresAt: number
}

interface Payload {
  i: string
  p: [string, string[]][]
  e: number
}

export class LoginTransactionCodec {
  readonly #keys: PurposeKeys

  constructor(secrets: Secrets) {
    this.#keys = purposeKeys(secrets, 'login-transaction')
  }

  seal(params: Params, now: number, random: Random): string {
    const payload: Payload = {
      i: randomId(random),
      p: [...params],
      e: now + LOGIN_TRANSACTION_TTL_SECONDS * 1000,
    }
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
    return `${body}.${this.#mac(this.#keys.current, body)}`
  }

  /** The transaction, or undefined when it is malformed, forged or expired at `now`. */
  open(sealed: string, now: number): LoginTransaction | undefined {
    if (sealed.length > MAX_SEALED) return undefined
    const dot = sealed.indexOf('.')
    if (dot < 0) return undefined
    const body = sealed.slice(0, dot)
    const mac = sealed.slice(dot + 1)
    if (!matchesAny(this.#keys, mac, (k) => this.#mac(k, body))) return undefined
    let payload: Payload
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload
    } catch {
      return undefined
    }
    if (
      typeof payload.e !== 'number' ||
      typeof payload.i !== 'string' ||
      !Array.isArray(payload.p)
    ) {
      return undefined
    }
    if (now >= payload.e) return undefined
    return { id: payload.i, params: new Map(payload.p), expiresAt: payload.e }
  }

  #mac(key: Buffer, body: string): string {
    return hmac(key, 'login-transaction', body).toString('base64url')
  }
}
