import type { FetchResponse, Jwk } from '../platform-types.js'
import { TesseraClientError } from '../errors.js'
import { base64urlEncode, utf8Encode } from '../lib/base64url.js'
import { randomBytes, type CryptoProvider } from '../lib/crypto.js'
import { decodeJwt } from '../lib/jwt.js'
import type { FetchLike } from '../http/http.js'
import type { DpopAgent, DpopBinding, DpopClient, DpopClock } from './dpop-binding.js'

/** A DPoP key: its public half and a way to sign with the private half, which stays hidden. */
export interface DpopKey {
  /** The JWS algorithm of `sign` (RFC 7518), e.g. `ES256`. */
  alg: string
  /** The public key, public members only (for `ES256`: `kty`, `crv`, `x`, `y`). */
  jwk: Jwk
  /** Signs `data` under `alg`, in JWS form (for `ES256` the 64-byte `r || s`, not DER). */
  sign(data: Uint8Array): Promise<Uint8Array>
}

/** Where the DPoP keys of clients live: one per `id` (an issuer and a client). */
export interface DpopKeys {
  /** The key of `id`, made and kept when there is none. */
  key(id: string): Promise<DpopKey>
  /** Forgets the key of `id` for good. */
  discard(id: string): Promise<void>
}

export interface DpopSignerOptions {
  /** Random bytes (for `jti`) and SHA-256 (for `ath`). Default Web Crypto (`globalThis.crypto`);
   * React Native passes its crypto provider, as for `createTesseraClient`. */
  crypto?: {
    getRandomValues(bytes: Uint8Array): Uint8Array
    sha256?(data: Uint8Array): Promise<Uint8Array>
  }
}

/** The largest number of access tokens whose `token_type` is remembered. */
const MAX_TOKENS = 64

/**
 * DPoP (RFC 9449) over keys of your own: React Native passes keys backed by its native crypto
 * (Secure Enclave, Android Keystore); Node can use `webCryptoDpopKeys()`. Pass the result as the
 * `dpop` option of `createTesseraClient`.
 *
 * Every token request gets a proof (`typ: dpop+jwt`, the public `jwk`; `htm`, `htu` without
 * query and fragment, `iat`, a random `jti`), and so does every API request whose token is bound
 * (`token_type: DPoP`), with `ath`. A `DPoP-Nonce` header is remembered per origin and put in
 * later proofs; a `use_dpop_nonce` answer (400 from the token endpoint, a 401 DPoP challenge from
 * an API) is sent again once with the new nonce.
 *
 * @example
 * const client = createTesseraClient({
 *   ...options,
 *   dpop: dpopSigner(webCryptoDpopKeys()),
 * })
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-4.2
 */
export function dpopSigner(keys: DpopKeys, o: DpopSignerOptions = {}): DpopBinding {
  return { forClient: (client, fetch, time) => agent(keys, client, fetch, time, o) }
}

function agent(
  keys: DpopKeys,
  client: DpopClient,
  fetch: FetchLike,
  time: DpopClock,
  o: DpopSignerOptions,
): DpopAgent {
  const id = `${client.issuer} ${client.clientId}`
  const nonces = new Map<string, string>()
  const tokenTypes = new Map<string, boolean>()
  let key: Promise<DpopKey> | undefined

  const crypto = () => {
    const c = o.crypto ?? globalThis.crypto
    if (!c)
      throw new TesseraClientError(
        'configuration',
        'DPoP: no crypto on this platform: pass `crypto` to dpopSigner',
      )
    return c
  }
  const sha256 = async (s: string): Promise<Uint8Array> => {
    const c = crypto()
    if ('sha256' in c && c.sha256) return c.sha256(utf8Encode(s))
    const subtle = (c as { subtle?: SubtleCrypto }).subtle
    if (!subtle)
      throw new TesseraClientError(
        'configuration',
        'DPoP: no SHA-256: pass `crypto` with sha256 to dpopSigner',
      )
    return new Uint8Array(await subtle.digest('SHA-256', utf8Encode(s) as Uint8Array<ArrayBuffer>))
  }

  const current = (): Promise<DpopKey> =>
    (key ??= keys.key(id).catch((err: unknown) => {
      key = undefined
      throw err
    }))

  const proof = async (
    method: string,
    url: URL,
    nonce: string | undefined,
    token: string | undefined,
  ) => {
    const k = await current()
    // Checked like PKCE's random bytes: never an unfilled buffer (APP-14).
    const jti = base64urlEncode(randomBytes(crypto() as CryptoProvider, 16))
    const htu = url.origin + url.pathname
    const claims: Record<string, unknown> = {
      jti,
      htm: method,
      htu,
      iat: Math.floor(time.now() / 1000),
    }
    if (token !== undefined) claims.ath = base64urlEncode(await sha256(token))
    if (nonce !== undefined) claims.nonce = nonce
    const { kty, crv, x, y, n, e } = k.jwk
    const header = { typ: 'dpop+jwt', alg: k.alg, jwk: { kty, crv, x, y, n, e } }
    const input = `${json(header)}.${json(claims)}`
    return `${input}.${base64urlEncode(await k.sign(utf8Encode(input)))}`
  }

  /** Whether `token` is DPoP-bound: as its token response said, else as its `cnf` says. */
  const isBound = (token: string): boolean => {
    const known = tokenTypes.get(token)
    if (known !== undefined) return known
    try {
      return decodeJwt(token).payload.cnf !== undefined
    } catch {
      // An opaque token not issued in this context: it was requested with a proof.
      return true
    }
  }

  const remember = async (res: FetchResponse): Promise<void> => {
    if (res.status !== 200 || typeof res.clone !== 'function') return
    try {
      const b = (await res.clone().json()) as Record<string, unknown>
      if (typeof b.access_token !== 'string' || typeof b.token_type !== 'string') return
      tokenTypes.set(b.access_token, b.token_type.toLowerCase() === 'dpop')
      if (tokenTypes.size > MAX_TOKENS) tokenTypes.delete(tokenTypes.keys().next().value!)
    } catch {
      // Not JSON: the client reports it.
    }
  }

  return {
    async send(input, init) {
      const request = new Request(input, init)
      const token = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1]
      if (token !== undefined && !isBound(token)) return fetch(request)
      // Read once, so the request can go again (the nonce retry) and tools see a plain body.
      const body = request.body ? await request.arrayBuffer() : undefined
      const headers = new Headers(request.headers)
      if (token !== undefined) headers.set('authorization', `DPoP ${token}`)
      const url = new URL(request.url)
      for (let attempt = 0; ; attempt++) {
        headers.set('dpop', await proof(request.method, url, nonces.get(url.origin), token))
        const res = await fetch(
          new Request(request, body === undefined ? { headers } : { headers, body }),
        )
        const nonce = res.headers.get('dpop-nonce')
        if (nonce !== null) nonces.set(url.origin, nonce)
        if (attempt === 0 && nonce !== null && (await asksForNonce(res))) {
          await res.text().catch(() => '')
          continue
        }
        if (token === undefined) await remember(res)
        return res
      }
    },
    async jkt() {
      const { kty, crv, x, y, n, e } = (await current()).jwk
      // RFC 7638 3.2: the required members only, in lexicographic order, no whitespace.
      const members = kty === 'RSA' ? { e, kty, n } : { crv, kty, x, y }
      return base64urlEncode(await sha256(JSON.stringify(members)))
    },
    async reset() {
      key = undefined
      nonces.clear()
      tokenTypes.clear()
      // A key that cannot be deleted is still forgotten here; the sign-out goes on.
      await keys.discard(id).catch(() => {})
    },
  }
}

/** A `use_dpop_nonce` error (RFC 9449 8 and 9): a 400 token error or a 401 DPoP challenge. */
async function asksForNonce(res: FetchResponse): Promise<boolean> {
  if (res.status === 401) {
    return /(^|,)\s*dpop\b[^]*?\berror\s*=\s*"?use_dpop_nonce"?/i.test(
      res.headers.get('www-authenticate') ?? '',
    )
  }
  if (res.status !== 400 || typeof res.clone !== 'function') return false
  try {
    const b = (await res.clone().json()) as { error?: unknown }
    return b.error === 'use_dpop_nonce'
  } catch {
    return false
  }
}

const json = (v: unknown): string => base64urlEncode(utf8Encode(JSON.stringify(v)))
