import { createHash, randomBytes } from 'node:crypto'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'
import type { FetchLike } from '../../src/index.js'
import { track } from './clocks.js'

export const ISSUER = 'https://auth.example.test'
export const CLIENT_ID = 'spa'
export const REDIRECT = 'https://app.example.test/callback'
export const API = 'https://api.example.test'

type Handler = (req: Request) => Response | Error | Promise<Response | Error>

/**
 * An authorization server in one function, for unit tests of the client's timing and validation
 * rules: discovery, JWKS, the code and refresh grants (rotation with a grace window like Tessera,
 * or strict like oidc-provider), revocation. Its clock is `now()` plus `driftMs`. `next` queues
 * answers for the next token requests (faults, forged tokens).
 */
export class FakeProvider {
  readonly calls: { path: string; form: URLSearchParams }[] = []
  readonly next: Handler[] = []
  driftMs = 0
  graceMs = 30_000
  accessTokenTtl = 900
  idTokenOverrides: Record<string, unknown> = {}
  idTokenKey: 'good' | 'other' = 'good'
  /** Merged into the ID token's protected header (`typ`, `crit`, ...). */
  idTokenHeader: Record<string, unknown> = {}
  /** Issue the ID token with `alg: none` and no signature. */
  idTokenUnsigned = false
  sendIss = true
  /** Every request fails as if the network were down. */
  unreachable = false
  #keys!: { privateKey: CryptoKey; publicJwk: JWK }
  #otherKey!: CryptoKey
  readonly #codes = new Map<string, { challenge: string; nonce: string; redirect: string }>()
  /** Refresh token -> generation; the family's current generation and its rotation time. */
  #family = { current: 0, rotatedAt: 0, revoked: false }
  readonly #now: () => number

  constructor(now: () => number) {
    this.#now = now
  }

  async init(): Promise<this> {
    const k = await generateKeyPair('ES256')
    this.#keys = { privateKey: k.privateKey, publicJwk: await exportJWK(k.publicKey) }
    this.#otherKey = (await generateKeyPair('ES256')).privateKey
    return this
  }

  serverNow(): number {
    return this.#now() + this.driftMs
  }

  metadata(): Record<string, unknown> {
    return {
      issuer: ISSUER,
      authorization_endpoint: ISSUER + '/authorize',
      token_endpoint: ISSUER + '/token',
      jwks_uri: ISSUER + '/jwks',
      revocation_endpoint: ISSUER + '/revoke',
      end_session_endpoint: ISSUER + '/logout',
      code_challenge_methods_supported: ['S256'],
      id_token_signing_alg_values_supported: ['ES256'],
      authorization_response_iss_parameter_supported: true,
    }
  }

  /** What the authorization endpoint would do after the user signed in: a code for the request. */
  authorize(url: URL): URL {
    const p = url.searchParams
    const code = randomBytes(16).toString('base64url')
    this.#codes.set(code, {
      challenge: p.get('code_challenge')!,
      nonce: p.get('nonce')!,
      redirect: p.get('redirect_uri')!,
    })
    const cb = new URL(p.get('redirect_uri')!)
    cb.searchParams.set('code', code)
    cb.searchParams.set('state', p.get('state')!)
    if (this.sendIss) cb.searchParams.set('iss', ISSUER)
    return cb
  }

  refreshTokenOf(gen: number): string {
    return `rt.${gen}`
  }

  get generation(): number {
    return this.#family.current
  }

  revokeFamily(): void {
    this.#family.revoked = true
  }

  async idToken(
    nonce: string | undefined,
    overrides: Record<string, unknown> = {},
  ): Promise<string> {
    const now = Math.floor(this.serverNow() / 1000)
    const claims: Record<string, unknown> = {
      iss: ISSUER,
      sub: 'user-1',
      aud: CLIENT_ID,
      iat: now,
      exp: now + 3600,
      sid: 'sid-1',
      name: 'Alice',
      ...(nonce !== undefined ? { nonce } : {}),
      ...this.idTokenOverrides,
      ...overrides,
    }
    for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k]
    if (this.idTokenUnsigned) {
      const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
      return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.`
    }
    const key = this.idTokenKey === 'good' ? this.#keys.privateKey : this.#otherKey
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT', ...this.idTokenHeader })
      .sign(key)
  }

  async accessToken(aud: string): Promise<string> {
    const now = Math.floor(this.serverNow() / 1000)
    return new SignJWT({ scope: 'read', jti: randomBytes(8).toString('hex') })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setSubject('user-1')
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + this.accessTokenTtl)
      .sign(this.#keys.privateKey)
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    })
  }

  /** Each answer is tracked as work in flight, so ManualClock.advance waits for it. */
  fetch: FetchLike = (input, init) => track(this.#answer(input, init))

  #answer: FetchLike = async (input, init) => {
    const req = new Request(input, init)
    const url = new URL(req.url)
    const form = new URLSearchParams(req.method === 'POST' ? await req.clone().text() : '')
    this.calls.push({ path: url.pathname, form })
    if (this.unreachable) throw new TypeError('fetch failed: ENETUNREACH')
    if (url.origin !== ISSUER) throw new TypeError('fetch failed: unknown host')
    if (url.pathname.endsWith('/.well-known/openid-configuration'))
      return this.json(200, this.metadata())
    if (url.pathname === '/jwks') {
      return this.json(200, {
        keys: [{ ...this.#keys.publicJwk, kid: 'k1', alg: 'ES256', use: 'sig' }],
      })
    }
    if (url.pathname === '/revoke') {
      this.#family.revoked = true
      return new Response(null, { status: 200 })
    }
    if (url.pathname !== '/token') return this.json(404, { error: 'not_found' })
    const override = this.next.shift()
    if (override) {
      const r = await override(req)
      if (r instanceof Error) throw r
      return r
    }
    const grant = form.get('grant_type')
    const resource = form.get('resource') ?? ISSUER
    if (grant === 'authorization_code') {
      const c = this.#codes.get(form.get('code') ?? '')
      this.#codes.delete(form.get('code') ?? '')
      const verifier = form.get('code_verifier') ?? ''
      if (!c || createHash('sha256').update(verifier).digest('base64url') !== c.challenge) {
        return this.json(400, { error: 'invalid_grant' })
      }
      this.#family = { current: 0, rotatedAt: this.serverNow(), revoked: false }
      return this.json(200, {
        access_token: await this.accessToken(resource),
        token_type: 'Bearer',
        expires_in: this.accessTokenTtl,
        refresh_token: this.refreshTokenOf(0),
        refresh_token_expires_in: 14 * 86_400,
        id_token: await this.idToken(c.nonce),
        scope: 'openid',
      })
    }
    if (grant === 'refresh_token') {
      const m = /^rt\.(\d+)$/.exec(form.get('refresh_token') ?? '')
      const f = this.#family
      if (!m || f.revoked) return this.json(400, { error: 'invalid_grant' })
      const gen = Number(m[1])
      const now = this.serverNow()
      if (gen === f.current) {
        f.current++
        f.rotatedAt = now
      } else if (!(gen === f.current - 1 && now < f.rotatedAt + this.graceMs)) {
        f.revoked = true
        return this.json(400, { error: 'invalid_grant' })
      }
      return this.json(200, {
        access_token: await this.accessToken(resource),
        token_type: 'Bearer',
        expires_in: this.accessTokenTtl,
        refresh_token: this.refreshTokenOf(f.current),
        scope: 'read',
      })
    }
    return this.json(400, { error: 'unsupported_grant_type' })
  }
}
