import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'
import { NOW_S } from './fake-clock.js'
import { craft, makeKey, rawSignature, type TestAlg, type TestKey } from './keys.js'

export const AUDIENCE = 'https://api.example.test'

/**
 * A small issuer we control: discovery, a JWKS that tests can rotate, break and count, and token
 * minting with its keys. Runs a real HTTP server on 127.0.0.1.
 */
export interface TestIssuer {
  url: string
  /** The JWKS entries served, in order; edit freely. */
  jwks: Record<string, unknown>[]
  /** Requests per path. */
  hits: Map<string, number>
  /** When set, the JWKS answers with this status instead of the keys (an outage). */
  jwksFailure: number | undefined
  /** Overrides fields of the discovery document. */
  metadata: Record<string, unknown>
  keys: Record<TestAlg, TestKey>
  jwksHits(): number
  /** A well-formed access token for AUDIENCE signed with `key` (default ES256). */
  token(claims?: Record<string, unknown>, o?: TokenOptions): Promise<string>
  /** Same claims as `token`, with any header and a node:crypto signature by `key`. */
  raw(header: Record<string, unknown>, claims?: Record<string, unknown>, key?: TestKey): string
  close(): Promise<void>
}

export interface TokenOptions {
  key?: TestKey
  typ?: string
}

export type IssuerKeys = Record<TestAlg, TestKey>

/** One key per algorithm. Generating RSA keys is slow: make them once per file and share. */
export function makeIssuerKeys(): IssuerKeys {
  return {
    ES256: makeKey('ES256', 'k-es256'),
    EdDSA: makeKey('EdDSA', 'k-eddsa'),
    RS256: makeKey('RS256', 'k-rs256'),
    PS256: makeKey('PS256', 'k-ps256'),
  }
}

export async function startIssuer(keys: IssuerKeys = makeIssuerKeys()): Promise<TestIssuer> {
  const hits = new Map<string, number>()
  const state = {
    jwks: Object.values(keys).map((k) => k.jwk) as Record<string, unknown>[],
    jwksFailure: undefined as number | undefined,
    metadata: {} as Record<string, unknown>,
  }
  let base = ''
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] as string
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (path === '/.well-known/openid-configuration') {
      return json(200, { issuer: base, jwks_uri: `${base}/jwks`, ...state.metadata })
    }
    if (path === '/jwks') {
      if (state.jwksFailure !== undefined) return json(state.jwksFailure, { error: 'down' })
      return json(200, { keys: state.jwks })
    }
    json(404, { error: 'not_found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  const claimsWith = (extra: Record<string, unknown>): Record<string, unknown> => ({
    iss: base,
    sub: 'usr_alice',
    aud: AUDIENCE,
    client_id: 'web-app',
    scope: 'read orders',
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    iat: NOW_S,
    exp: NOW_S + 600,
    ...extra,
  })

  const issuer: TestIssuer = {
    url: base,
    get jwks() {
      return state.jwks
    },
    set jwks(v) {
      state.jwks = v
    },
    get jwksFailure() {
      return state.jwksFailure
    },
    set jwksFailure(v) {
      state.jwksFailure = v
    },
    get metadata() {
      return state.metadata
    },
    set metadata(v) {
      state.metadata = v
    },
    hits,
    keys,
    jwksHits: () => hits.get('/jwks') ?? 0,
    async token(claims = {}, o = {}) {
      const key = o.key ?? keys.ES256
      // Claims set to undefined are dropped, so a test can remove a standard claim.
      const payload = JSON.parse(JSON.stringify(claimsWith(claims))) as Record<string, unknown>
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, typ: o.typ ?? 'at+jwt', kid: key.kid })
        .sign(key.privateKey)
    },
    raw(header, claims = {}, key = keys.ES256) {
      const payload = JSON.parse(JSON.stringify(claimsWith(claims))) as Record<string, unknown>
      return craft(header, payload, (input) => rawSignature(key, input))
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((err) => (err ? reject(err) : resolve()))
      }),
  }
  return issuer
}
