import { signCompactJws } from './jws.js'
import { createHash } from 'node:crypto'
import type { Clock } from '../lib/clock.js'
import { seconds } from '../lib/clock.js'
import { randomId, type Random } from '../lib/random.js'
import type { ApiRecord, ClientRecord, UserRecord } from '../store/types.js'
import type { KeyManager } from './signing-keys.js'

/** Claims a token may never have overwritten by a hook. */
const RESERVED = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'scope',
  'sid',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'nonce',
  'at_hash',
  'cnf',
  'typ',
])

/** Input of the per-API claims hook (the role Auth0 Actions play). */
export interface AccessTokenClaimsInput {
  api: ApiRecord
  client: ClientRecord
  /** Undefined for client_credentials tokens. */
  user: UserRecord | undefined
  scope: string
  sessionId: string | undefined
}

export type AccessTokenClaimsHook = (
  input: AccessTokenClaimsInput,
) => Record<string, unknown> | undefined | Promise<Record<string, unknown> | undefined>

export interface AccessTokenInput {
  api: ApiRecord
  client: ClientRecord
  user: UserRecord | undefined
  scope: string
  sessionId?: string
  authTime?: number
  amr?: string[]
  /** Authentication context class of the session (`urn:tessera:acr:pwd` / `...:mfa`). */
  acr?: string
  /** RFC 9449 6.1: binds the token to this DPoP key thumbprint (`cnf.jkt`). */
  jkt?: string
}

export interface IssuedAccessToken {
  token: string
  expiresIn: number
  jti: string
}

/** Signs access tokens (RFC 9068 `at+jwt`, one audience each) and ID tokens. */
export class TokenIssuer {
  readonly #issuer: string
  readonly #keys: KeyManager
  readonly #clock: Clock
  readonly #random: Random
  readonly #idTokenTtl: number
  readonly #hook: AccessTokenClaimsHook | undefined

  constructor(opts: {
    issuer: string
    keys: KeyManager
    clock: Clock
    random: Random
    idTokenTtlSeconds: number
    accessTokenClaims?: AccessTokenClaimsHook | undefined
  }) {
    this.#issuer = opts.issuer
    this.#keys = opts.keys
    this.#clock = opts.clock
    this.#random = opts.random
    this.#idTokenTtl = opts.idTokenTtlSeconds
    this.#hook = opts.accessTokenClaims
  }

  async accessToken(input: AccessTokenInput): Promise<IssuedAccessToken> {
    const { api, client, user, scope } = input
    const now = seconds(this.#clock.now())
    const ttl = api.accessTokenTtlSeconds
    const jti = randomId(this.#random)
    const extra: Record<string, unknown> = {}
    if (user) {
      for (const key of api.userClaims) {
        if (key in user.metadata && !RESERVED.has(key)) extra[key] = user.metadata[key]
      }
    }
    if (this.#hook) {
      const added = await this.#hook({ api, client, user, scope, sessionId: input.sessionId })
      for (const [k, v] of Object.entries(added ?? {})) {
        if (!RESERVED.has(k)) extra[k] = v
      }
    }
    const claims: Record<string, unknown> = {
      ...extra,
      client_id: client.id,
      scope,
      ...(input.sessionId ? { sid: input.sessionId } : {}),
      ...(input.authTime !== undefined ? { auth_time: seconds(input.authTime) } : {}),
      ...(input.acr !== undefined ? { acr: input.acr } : {}),
      ...(input.amr && input.amr.length > 0 ? { amr: input.amr } : {}),
      ...(input.jkt !== undefined ? { cnf: { jkt: input.jkt } } : {}),
    }
    const key = this.#keys.signingKey()
    const token = signCompactJws(
      { alg: key.record.alg, typ: 'at+jwt', kid: key.record.kid },
      {
        ...claims,
        iss: this.#issuer,
        sub: user ? user.id : client.id,
        aud: api.audience,
        iat: now,
        exp: now + ttl,
        jti,
      },
      key.signingKey,
    )
    return { token, expiresIn: ttl, jti }
  }

  idToken(input: {
    user: UserRecord
    client: ClientRecord
    sessionId: string
    authTime: number
    amr: string[]
    /** `acr` (OIDC Core 2), from the session's `amr`. */
    acr?: string
    nonce: string | null
    accessToken: string | undefined
    claims: Record<string, unknown>
  }): Promise<string> {
    const now = seconds(this.#clock.now())
    const key = this.#keys.signingKey()
    const payload: Record<string, unknown> = {
      ...input.claims,
      sid: input.sessionId,
      auth_time: seconds(input.authTime),
      azp: input.client.id,
      ...(input.acr !== undefined ? { acr: input.acr } : {}),
      ...(input.amr.length > 0 ? { amr: input.amr } : {}),
      ...(input.nonce ? { nonce: input.nonce } : {}),
      ...(input.accessToken ? { at_hash: atHash(input.accessToken, key.record.alg) } : {}),
    }
    return Promise.resolve(
      signCompactJws(
        { alg: key.record.alg, typ: 'JWT', kid: key.record.kid },
        {
          ...payload,
          iss: this.#issuer,
          sub: input.user.id,
          aud: input.client.id,
          iat: now,
          exp: now + this.#idTokenTtl,
        },
        key.signingKey,
      ),
    )
  }
}

/** OIDC Core 3.1.3.6: left half of the hash of the access token, with the signing alg's hash. */
export function atHash(accessToken: string, alg: string): string {
  const hash = alg === 'EdDSA' ? 'sha512' : 'sha256'
  const digest = createHash(hash).update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}
