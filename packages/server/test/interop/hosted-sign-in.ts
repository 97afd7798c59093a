/**
 * The browser part of the interop tests: a client library builds the authorization URL, and this
 * follows it through the hosted sign-in form over HTTP (fetch + cookie jar), as a user agent would,
 * up to the 303 back to the client. The library then processes that callback URL itself.
 *
 * @example
 * const url = client.buildAuthorizationUrl(config, { redirect_uri, scope, ... })
 * const { callback } = await followAuthorization(t, url)
 * await client.authorizationCodeGrant(config, callback, { ... })
 */
import { createHash } from 'node:crypto'
import { decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, expect } from 'vitest'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../helpers/oauth-flow.js'
import { FakeClock } from '../../src/lib/clock.js'
import type { ClientConfig } from '../../src/config/config.js'
import type { ConfigInput } from '../../src/config/resolve.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  defaultClients,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'

export const ALICE = { username: 'alice', password: 'correct horse battery' }
export const CONFIDENTIAL_REDIRECT = 'https://backend.example.test/callback'
export const SIGNED_OUT = 'https://app.example.test/signed-out'

/** A second confidential client, registered for client_secret_post (the demo one uses basic). */
export const postClient: ClientConfig = {
  id: 'confidential-post',
  secret: CONFIDENTIAL_SECRET,
  tokenEndpointAuthMethod: 'client_secret_post',
  redirectUris: [CONFIDENTIAL_REDIRECT],
  audiences: [API_A, API_B],
  grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
  scopes: ['openid', 'profile', 'offline_access', 'read', 'write', 'orders'],
}

/** The resource server of both APIs: it may introspect their access tokens (SES-12). */
export const RESOURCE_SERVER: ClientConfig = {
  id: 'api-rs',
  secret: CONFIDENTIAL_SECRET,
  grantTypes: ['client_credentials'],
  scopes: [],
  resourceServerFor: [API_A, API_B],
}

/**
 * A real server whose FakeClock starts at the real time: the client libraries check `iat` and
 * `exp` against `Date.now()`, so the server's notion of now must agree with theirs.
 */
export function startInteropServer(config: Partial<ConfigInput> = {}): Promise<TestServer> {
  return startTestServer({
    clock: new FakeClock(Date.now()),
    clients: [...defaultClients, postClient, RESOURCE_SERVER],
    config,
  })
}

/** What an interop test file shares: its server, the user alice (an admin) and the issuer URL. */
export interface InteropSuite {
  t: TestServer
  alice: UserRecord
  issuer: URL
}

/**
 * Registers the file's prologue: before all tests, start an interop server (`config`) and create
 * alice with the ALICE credentials and the admin role, then hand them to `ready`; after all
 * tests, close the server.
 */
export function useInteropServer(
  ready: (suite: InteropSuite) => void,
  config: Partial<ConfigInput> = {},
): void {
  let server: TestServer | undefined
  beforeAll(async () => {
    server = await startInteropServer(config)
    const alice = await server.createUser(ALICE.username, ALICE.password, { roles: ['admin'] })
    ready({ t: server, alice, issuer: new URL(server.url) })
  })
  afterAll(async () => {
    await server?.close()
  })
}

export interface BrowserSignIn {
  /** Where the server sent the browser back: the client's redirect URI with the response. */
  callback: URL
  jar: CookieJar
  /** Whether the sign-in form was shown (false when the SSO cookie answered). */
  signedIn: boolean
}

/**
 * GETs `authorizationUrl`, fills in the hosted sign-in form when the server asks for it, and
 * returns the final redirect back to the client. Asserts the shape of each step on the way.
 */
export async function followAuthorization(
  t: TestServer,
  authorizationUrl: URL,
  o: { jar?: CookieJar; username?: string; password?: string } = {},
): Promise<BrowserSignIn> {
  expect(authorizationUrl.origin + authorizationUrl.pathname).toBe(t.url + '/authorize')
  const jar = o.jar ?? new CookieJar()
  let res = await browserFetch(jar, authorizationUrl.href)
  let signedIn = false
  if (isLoginRedirect(t, res)) {
    expect(res.status).toBe(303)
    const login = await openLogin(t, res, jar)
    expect(login.res.status).toBe(200)
    expect(login.fields.tx).toMatch(/\S/)
    expect(login.fields.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/)
    res = await submitLogin(
      t,
      login.fields,
      jar,
      o.username ?? ALICE.username,
      o.password ?? ALICE.password,
    )
    signedIn = true
  }
  // RDR-10: the answer to the credential POST is a 303, never a 307.
  expect(res.status).toBe(303)
  const location = res.headers.get('location')
  expect(location).toBeTruthy()
  return { callback: new URL(location!), jar, signedIn }
}

/**
 * OIDC Core 3.1.3.6 / 3.2.2.9: base64url of the left half of the hash of the access token, with
 * the hash of the ID token's `alg`: SHA-256 for ES256 and RS256; SHA-512 for EdDSA over Ed25519
 * (as node-oidc-provider and the OpenID conformance suite do).
 */
export function expectedAtHash(accessToken: string, idToken: string): string {
  const { alg } = decodeProtectedHeader(idToken)
  const hash = { ES256: 'sha256', RS256: 'sha256', EdDSA: 'sha512' }[alg ?? '']
  if (hash === undefined) throw new Error(`no at_hash rule for alg ${alg}`)
  const digest = createHash(hash).update(accessToken, 'ascii').digest()
  return digest.subarray(0, digest.length / 2).toString('base64url')
}

/** `tsr_<session id>.<generation>.<MAC>`: the shape and the session a refresh token names. */
export function refreshTokenParts(token: string): { sessionId: string; generation: number } {
  const m = /^tsr_([A-Za-z0-9_-]{22})\.(0|[1-9][0-9]*)\.([A-Za-z0-9_-]{43})$/.exec(token)
  expect(m, 'refresh token shape tsr_<sid>.<generation>.<mac>').not.toBeNull()
  return { sessionId: m![1]!, generation: Number(m![2]) }
}
