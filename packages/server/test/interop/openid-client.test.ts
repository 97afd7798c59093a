/**
 * Interoperability: `openid-client` (a certified OpenID Connect relying party) against a real
 * Tessera server. The library discovers the server, builds the authorization request, and
 * validates every response the way it does for any provider; the test plays the browser through
 * the hosted sign-in form and checks values on both sides (claims, error codes, database rows).
 *
 * Neither openid-client nor oauth4webapi checks `at_hash` in the code flow (it is optional there,
 * OIDC Core 3.1.3.8), so the test computes it. The ID token signature is checked against the JWKS
 * by `enableNonRepudiationChecks`, and the test confirms that the JWKS was actually fetched.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import * as client from 'openid-client'
import { describe, expect, it } from 'vitest'
import { seconds } from '../../src/lib/clock.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import { browserFetch, isLoginRedirect, type CookieJar } from '../helpers/oauth-flow.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'
import {
  CONFIDENTIAL_REDIRECT,
  SIGNED_OUT,
  expectedAtHash,
  followAuthorization,
  refreshTokenParts,
  useInteropServer,
} from './hosted-sign-in.js'

type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers

/** One HTTP request openid-client made, as it went on the wire. */
interface WireRequest {
  url: string
  method: string
  authorization: string | undefined
  body: URLSearchParams | undefined
}

let t: TestServer
let alice: UserRecord
let issuer: URL
let jwks: ReturnType<typeof createRemoteJWKSet>

useInteropServer((s) => {
  ;({ t, alice, issuer } = s)
  jwks = createRemoteJWKSet(new URL(t.url + '/.well-known/jwks.json'))
})

/**
 * `discovery()` with plain http allowed (tests only: the issuer is http://127.0.0.1), ID token
 * signatures checked against the JWKS, and every request the library makes recorded in `wire`.
 */
function discover(
  clientId: string,
  auth: client.ClientAuth,
  wire: WireRequest[] = [],
): Promise<client.Configuration> {
  const recordingFetch: client.CustomFetch = (url, options) => {
    const h = options.headers
    wire.push({
      url,
      method: options.method,
      authorization: h.authorization ?? h.Authorization,
      body: options.body instanceof URLSearchParams ? new URLSearchParams(options.body) : undefined,
    })
    // The library passes fetch its own init; only the Uint8Array generic differs from RequestInit.
    return fetch(url, options as RequestInit)
  }
  return client.discovery(issuer, clientId, undefined, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
    [client.customFetch]: recordingFetch,
  })
}

interface AuthorizationRequest {
  url: URL
  codeVerifier: string
  state: string
  nonce: string
}

/** The library's own helpers for PKCE S256, state and nonce. */
async function authorizationRequest(
  config: client.Configuration,
  redirectUri: string,
  scope = 'openid profile email offline_access read',
): Promise<AuthorizationRequest> {
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { url, codeVerifier, state, nonce }
}

/** Authorization request, hosted sign-in, and the code grant with every check on. */
async function signIn(
  config: client.Configuration,
  redirectUri: string,
  scope?: string,
): Promise<{ tokens: Tokens; req: AuthorizationRequest; jar: CookieJar; sessionId: string }> {
  const req = await authorizationRequest(config, redirectUri, scope)
  const { callback, jar } = await followAuthorization(t, req.url)
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: req.codeVerifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  })
  return { tokens, req, jar, sessionId: refreshTokenParts(tokens.refresh_token!).sessionId }
}

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the call to fail')
}

describe('openid-client, public client web-app (PKCE, no secret)', () => {
  const wire: WireRequest[] = []
  let config: client.Configuration
  let req: AuthorizationRequest
  let callback: URL
  let first: Tokens
  let idClaims: client.IDToken
  let sessionId: string
  let second: Tokens
  let forApi: Tokens

  it('discovery() accepts the OpenID metadata of the issuer', async () => {
    config = await discover('web-app', client.None(), wire)
    const md = config.serverMetadata()
    expect(md.issuer).toBe(t.url)
    expect(md.authorization_endpoint).toBe(t.url + '/authorize')
    expect(md.token_endpoint).toBe(t.url + '/oauth/token')
    expect(md.revocation_endpoint).toBe(t.url + '/oauth/revoke')
    expect(md.introspection_endpoint).toBe(t.url + '/oauth/introspect')
    expect(md.userinfo_endpoint).toBe(t.url + '/userinfo')
    expect(md.jwks_uri).toBe(t.url + '/.well-known/jwks.json')
    expect(md.end_session_endpoint).toBe(t.url + '/logout')
    expect(md.code_challenge_methods_supported).toEqual(['S256'])
    expect(md.authorization_response_iss_parameter_supported).toBe(true)
    expect(md.supportsPKCE()).toBe(true)
    expect(wire.map((w) => w.url)).toEqual([t.url + '/.well-known/openid-configuration'])
  })

  it('RDR-09 the URL from buildAuthorizationUrl() leads through the hosted form back with code, state and iss', async () => {
    req = await authorizationRequest(config, WEB_REDIRECT)
    expect(req.url.searchParams.get('client_id')).toBe('web-app')
    expect(req.url.searchParams.get('response_type')).toBe('code')
    expect(req.url.searchParams.get('code_challenge_method')).toBe('S256')
    const b = await followAuthorization(t, req.url)
    expect(b.signedIn).toBe(true)
    callback = b.callback
    expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)
    expect(callback.searchParams.get('state')).toBe(req.state)
    expect(callback.searchParams.get('iss')).toBe(t.url)
    expect(callback.searchParams.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('SDK-03 authorizationCodeGrant() refuses a callback with a foreign or missing iss, or another state, and redeems nothing', async () => {
    const checks = {
      pkceCodeVerifier: req.codeVerifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    }
    const foreignIss = new URL(callback)
    foreignIss.searchParams.set('iss', 'https://evil.example.test')
    const noIss = new URL(callback)
    noIss.searchParams.delete('iss')
    const otherState = new URL(callback)
    otherState.searchParams.set('state', client.randomState())
    const cases: [URL, RegExp][] = [
      [foreignIss, /unexpected "iss" \(issuer\) response parameter value/],
      [noIss, /response parameter "iss" \(issuer\) missing/],
      [otherState, /unexpected "state" response parameter value/],
    ]
    const tokenCalls = wire.filter((w) => w.url.endsWith('/oauth/token')).length
    for (const [url, reason] of cases) {
      const err = await rejection(client.authorizationCodeGrant(config, url, checks))
      expect(err).toBeInstanceOf(client.ClientError)
      expect(err.code).toBe('OAUTH_INVALID_RESPONSE')
      expect(err.cause.message).toMatch(reason)
    }
    expect(wire.filter((w) => w.url.endsWith('/oauth/token')).length).toBe(tokenCalls)
    const code = await t.store.getCode(sha256b64u(callback.searchParams.get('code')!))
    expect(code?.consumedAt).toBeNull()
  })

  it('authorizationCodeGrant() validates iss, state and the ID token (JWKS signature, nonce, at_hash)', async () => {
    const jwksFetches = wire.filter((w) => w.url.endsWith('/jwks.json')).length
    first = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.codeVerifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
      idTokenExpected: true,
    })
    // The library fetched the JWKS to check the ID token's signature (non-repudiation checks).
    expect(wire.filter((w) => w.url.endsWith('/jwks.json')).length).toBe(jwksFetches + 1)
    const tokenRequest = wire.filter((w) => w.url.endsWith('/oauth/token')).at(-1)!
    expect(tokenRequest.authorization).toBeUndefined()
    expect(tokenRequest.body?.get('client_id')).toBe('web-app')
    expect(tokenRequest.body?.get('code_verifier')).toBe(req.codeVerifier)
    expect(tokenRequest.body?.get('redirect_uri')).toBe(WEB_REDIRECT)

    expect(first.token_type).toBe('bearer')
    expect(first.expires_in).toBe(900)
    expect(first.scope).toBe('openid profile email offline_access')
    const rt = refreshTokenParts(first.refresh_token!)
    expect(rt.generation).toBe(0)
    sessionId = rt.sessionId

    idClaims = first.claims()!
    expect(idClaims).toMatchObject({
      iss: t.url,
      sub: alice.id,
      aud: 'web-app',
      azp: 'web-app',
      nonce: req.nonce,
      sid: sessionId,
      amr: ['pwd'],
      preferred_username: 'alice',
      email: 'alice@example.test',
    })
    expect(idClaims.at_hash).toBe(expectedAtHash(first.access_token, first.id_token!))
    expect(idClaims.exp - idClaims.iat).toBe(3600)
    const verified = await jwtVerify(first.id_token!, jwks, {
      issuer: t.url,
      audience: 'web-app',
      typ: 'JWT',
    })
    expect(verified.protectedHeader.alg).toBe('ES256')

    const at = decodeJwt(first.access_token)
    expect(decodeProtectedHeader(first.access_token).typ).toBe('at+jwt')
    expect(at).toMatchObject({
      iss: t.url,
      aud: t.url,
      sub: alice.id,
      client_id: 'web-app',
      sid: sessionId,
      scope: 'openid profile email offline_access',
      auth_time: idClaims.auth_time,
    })

    const s = await t.store.getSession(sessionId)
    expect(s).toMatchObject({
      state: 'active',
      userId: alice.id,
      clientId: 'web-app',
      generation: 0,
      scope: 'openid profile email offline_access read',
      resources: [API_A, API_B],
    })
    expect(seconds(s!.authTime)).toBe(idClaims.auth_time)
    const code = await t.store.getCode(sha256b64u(callback.searchParams.get('code')!))
    expect(code?.consumedAt).toBe(t.clock.now())
    expect(code?.sessionId).toBe(sessionId)
  })

  it('SDK-03 the ID token carries the nonce of its own request: another expected nonce fails the grant', async () => {
    const other = await authorizationRequest(config, WEB_REDIRECT)
    const b = await followAuthorization(t, other.url)
    const err = await rejection(
      client.authorizationCodeGrant(config, b.callback, {
        pkceCodeVerifier: other.codeVerifier,
        expectedState: other.state,
        expectedNonce: req.nonce,
      }),
    )
    expect(err).toBeInstanceOf(client.ClientError)
    expect(err.code).toBe('OAUTH_JWT_CLAIM_COMPARISON_FAILED')
    expect(err.cause.cause).toMatchObject({ claim: 'nonce', expected: req.nonce })
    expect(err.cause.cause.claims.nonce).toBe(other.nonce)
  })

  it('fetchUserInfo() returns the claims of the granted scope for the ID token subject', async () => {
    const info = await client.fetchUserInfo(config, first.access_token, idClaims.sub)
    expect({ ...info }).toEqual({
      sub: alice.id,
      preferred_username: 'alice',
      name: 'alice',
      updated_at: seconds(alice.updatedAt),
      email: 'alice@example.test',
      email_verified: false,
    })
  })

  it('RT-15 refreshTokenGrant() rotates the refresh token; the new ID token keeps iss, sub, aud, azp, auth_time, with a new iat', async () => {
    t.clock.advance(2000)
    second = await client.refreshTokenGrant(config, first.refresh_token!)
    expect(second.refresh_token).not.toBe(first.refresh_token)
    expect(refreshTokenParts(second.refresh_token!)).toEqual({ sessionId, generation: 1 })
    const c = second.claims()!
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time', 'sid'] as const) {
      expect(c[claim], claim).toEqual(idClaims[claim])
    }
    expect(c.iat).toBe(idClaims.iat + 2)
    expect(c.nonce).toBeUndefined()
    expect(c.at_hash).toBe(expectedAtHash(second.access_token, second.id_token!))
    expect(decodeJwt(second.access_token).aud).toBe(t.url)
    expect(second.scope).toBe('openid profile email offline_access')

    const s = await t.store.getSession(sessionId)
    expect(s).toMatchObject({ state: 'active', generation: 1, rotatedAt: t.clock.now() })
  })

  it('RT-10 a refresh asking for a resource outside the grant is invalid_target and rotates nothing', async () => {
    const err = await rejection(
      client.refreshTokenGrant(config, second.refresh_token!, {
        resource: 'https://api-c.example.test',
      }),
    )
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.status).toBe(400)
    expect(err.error).toBe('invalid_target')
    expect((await t.store.getSession(sessionId))?.generation).toBe(1)
  })

  it('TOK-06 a second refresh with resource gets an access token for that API alone', async () => {
    forApi = await client.refreshTokenGrant(config, second.refresh_token!, { resource: API_A })
    expect(refreshTokenParts(forApi.refresh_token!)).toEqual({ sessionId, generation: 2 })
    expect(forApi.scope).toBe('read')
    expect(forApi.expires_in).toBe(900)
    const { payload, protectedHeader } = await jwtVerify(forApi.access_token, jwks, {
      issuer: t.url,
      audience: API_A,
      typ: 'at+jwt',
    })
    expect(protectedHeader.typ).toBe('at+jwt')
    expect(payload).toMatchObject({
      aud: API_A,
      sub: alice.id,
      client_id: 'web-app',
      sid: sessionId,
      scope: 'read',
      roles: ['admin'],
    })
    await expect(
      jwtVerify(forApi.access_token, jwks, { issuer: t.url, audience: t.url, typ: 'at+jwt' }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
    // UserInfo takes only tokens whose audience is the issuer.
    const err = await rejection(client.fetchUserInfo(config, forApi.access_token, alice.id))
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError)
    expect(err.status).toBe(401)
    expect(err.cause[0]).toMatchObject({ scheme: 'bearer', parameters: { error: 'invalid_token' } })
  })

  it("SES-11/SES-12 tokenIntrospection() by the resource server of the API: its access token active; the public client's refresh token, issuer token and rotated token not", async () => {
    const rs = await discover('api-rs', client.ClientSecretBasic(CONFIDENTIAL_SECRET))
    const apiToken = await client.tokenIntrospection(rs, forApi.access_token)
    expect(apiToken).toMatchObject({
      active: true,
      aud: API_A,
      client_id: 'web-app',
      sub: alice.id,
      sid: sessionId,
      scope: 'read',
    })
    // A refresh token is its client's alone; a token for the issuer has no resource server but
    // Tessera: both are live, yet the resource server learns nothing about them.
    expect(await t.store.getSession(sessionId)).toMatchObject({ state: 'active', generation: 2 })
    for (const token of [forApi.refresh_token!, first.access_token, second.refresh_token!]) {
      expect({ ...(await client.tokenIntrospection(rs, token)) }).toEqual({ active: false })
    }
    // confidential-app is neither the client nor a resource server of these tokens.
    const other = await discover('confidential-app', client.ClientSecretBasic(CONFIDENTIAL_SECRET))
    expect({ ...(await client.tokenIntrospection(other, forApi.access_token)) }).toEqual({
      active: false,
    })
  })

  it('SES-12 tokenIntrospection() by the public client itself is invalid_client (401) and reveals nothing', async () => {
    const err = await rejection(client.tokenIntrospection(config, forApi.access_token))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.status).toBe(401)
    expect(err.error).toBe('invalid_client')
    expect(Object.keys(err.cause).sort()).toEqual(['error', 'error_description'])
  })

  it('tokenRevocation() of an access token is unsupported_token_type (RFC 7009 2.2.1) and leaves the session active', async () => {
    const err = await rejection(client.tokenRevocation(config, forApi.access_token))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.status).toBe(400)
    expect(err.error).toBe('unsupported_token_type')
    expect(await t.store.getSession(sessionId)).toMatchObject({ state: 'active', generation: 2 })
  })

  it('SES-08 tokenRevocation() of the refresh token ends the session; its tokens introspect inactive', async () => {
    await client.tokenRevocation(config, forApi.refresh_token!)
    const revocation = wire.filter((w) => w.url.endsWith('/oauth/revoke')).at(-1)!
    expect(revocation.body?.get('token')).toBe(forApi.refresh_token)
    expect(revocation.body?.get('client_id')).toBe('web-app')

    const s = await t.store.getSession(sessionId)
    expect(s).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
      endedAt: t.clock.now(),
    })
    const events = await t.store.listEvents({ type: 'token_revoked', sessionId })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ userId: alice.id, clientId: 'web-app' })

    const rs = await discover('api-rs', client.ClientSecretBasic(CONFIDENTIAL_SECRET))
    for (const token of [forApi.refresh_token!, forApi.access_token, first.access_token]) {
      expect({ ...(await client.tokenIntrospection(rs, token)) }).toEqual({ active: false })
    }
    const err = await rejection(client.fetchUserInfo(config, first.access_token, alice.id))
    expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError)
    expect(err.status).toBe(401)
  })

  it('a refresh with the revoked refresh token is invalid_grant', async () => {
    const err = await rejection(client.refreshTokenGrant(config, forApi.refresh_token!))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.status).toBe(400)
    expect(err.error).toBe('invalid_grant')
    // Still the revocation's verdict, not a reuse: nothing else was recorded.
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
    })
    expect(await t.store.listEvents({ type: 'refresh_token_reuse', sessionId })).toEqual([])
  })
})

describe.each([
  {
    method: 'client_secret_basic',
    clientId: 'confidential-app',
    auth: () => client.ClientSecretBasic(CONFIDENTIAL_SECRET),
    other: () => client.ClientSecretPost(CONFIDENTIAL_SECRET),
  },
  {
    method: 'client_secret_post',
    clientId: 'confidential-post',
    auth: () => client.ClientSecretPost(CONFIDENTIAL_SECRET),
    other: () => client.ClientSecretBasic(CONFIDENTIAL_SECRET),
  },
])('openid-client, confidential client with $method', ({ method, clientId, auth, other }) => {
  /** The secret went the registered way, and only that way. */
  function expectAuthenticated(w: WireRequest): void {
    if (method === 'client_secret_basic') {
      // RFC 6749 2.3.1: id and secret are form-urlencoded, then base64 (the library encodes
      // even `-`), so compare what the server decodes.
      const m = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(w.authorization ?? '')
      expect(m, 'Authorization: Basic').not.toBeNull()
      const [id, secret] = Buffer.from(m![1]!, 'base64').toString('utf8').split(':')
      expect(decodeURIComponent(id!)).toBe(clientId)
      expect(decodeURIComponent(secret!)).toBe(CONFIDENTIAL_SECRET)
      expect(w.body?.has('client_secret')).toBe(false)
    } else {
      expect(w.authorization).toBeUndefined()
      expect(w.body?.get('client_id')).toBe(clientId)
      expect(w.body?.get('client_secret')).toBe(CONFIDENTIAL_SECRET)
    }
  }

  it('PKCE-07 code flow, userinfo, refresh, refresh with resource, introspection, revocation, then invalid_grant', async () => {
    const wire: WireRequest[] = []
    const config = await discover(clientId, auth(), wire)
    const { tokens, req, sessionId } = await signIn(
      config,
      CONFIDENTIAL_REDIRECT,
      'openid profile offline_access read orders',
    )
    const onWire = (path: string) => wire.filter((w) => w.url === t.url + path)
    expectAuthenticated(onWire('/oauth/token').at(-1)!)
    const id = tokens.claims()!
    expect(id).toMatchObject({
      iss: t.url,
      sub: alice.id,
      aud: clientId,
      azp: clientId,
      nonce: req.nonce,
      sid: sessionId,
    })
    expect(id.email).toBeUndefined()
    expect(id.at_hash).toBe(expectedAtHash(tokens.access_token, tokens.id_token!))
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'active',
      clientId,
      generation: 0,
      scope: 'openid profile offline_access read orders',
    })

    const info = await client.fetchUserInfo(config, tokens.access_token, alice.id)
    expect({ ...info }).toEqual({
      sub: alice.id,
      preferred_username: 'alice',
      name: 'alice',
      updated_at: seconds(alice.updatedAt),
    })

    t.clock.advance(1000)
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!)
    expectAuthenticated(onWire('/oauth/token').at(-1)!)
    expect(refreshTokenParts(refreshed.refresh_token!)).toEqual({ sessionId, generation: 1 })
    const id2 = refreshed.claims()!
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time', 'sid'] as const) {
      expect(id2[claim], claim).toEqual(id[claim])
    }
    expect(id2.iat).toBe(id.iat + 1)

    const forApi = await client.refreshTokenGrant(config, refreshed.refresh_token!, {
      resource: API_B,
    })
    expect(refreshTokenParts(forApi.refresh_token!)).toEqual({ sessionId, generation: 2 })
    expect(forApi.scope).toBe('orders')
    expect(forApi.expires_in).toBe(300)
    const { payload } = await jwtVerify(forApi.access_token, jwks, {
      issuer: t.url,
      audience: API_B,
      typ: 'at+jwt',
    })
    expect(payload).toMatchObject({ sub: alice.id, client_id: clientId, scope: 'orders' })
    expect(payload.exp! - payload.iat!).toBe(300)

    const active = await client.tokenIntrospection(config, forApi.access_token)
    expectAuthenticated(onWire('/oauth/introspect').at(-1)!)
    expect(active).toMatchObject({ active: true, aud: API_B, client_id: clientId, sid: sessionId })
    expect(await client.tokenIntrospection(config, forApi.refresh_token!)).toMatchObject({
      active: true,
      token_type: 'refresh_token',
      client_id: clientId,
    })

    await client.tokenRevocation(config, forApi.refresh_token!)
    expectAuthenticated(onWire('/oauth/revoke').at(-1)!)
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
    })
    for (const token of [forApi.access_token, forApi.refresh_token!]) {
      expect({ ...(await client.tokenIntrospection(config, token)) }).toEqual({ active: false })
    }

    const err = await rejection(client.refreshTokenGrant(config, forApi.refresh_token!))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.error).toBe('invalid_grant')
  })

  it('the other secret method is refused: a client authenticates the one way it registered (invalid_client, 401)', async () => {
    const config = await discover(clientId, other())
    const err = await rejection(client.clientCredentialsGrant(config, { resource: API_A }))
    expect(err.status).toBe(401)
    if (method === 'client_secret_post') {
      // RFC 6749 5.2: an attempt with the Authorization header gets 401 and a Basic challenge.
      expect(err).toBeInstanceOf(client.WWWAuthenticateChallengeError)
      expect(err.cause[0]).toMatchObject({ scheme: 'basic', parameters: { realm: 'tessera' } })
      expect(await err.response.json()).toMatchObject({ error: 'invalid_client' })
    } else {
      expect(err).toBeInstanceOf(client.ResponseBodyError)
      expect(err.error).toBe('invalid_client')
    }
  })

  it('clientCredentialsGrant() gets an access token whose subject is the client, for the one API asked', async () => {
    const config = await discover(clientId, auth())
    const before = await t.store.listSessions({ clientId })
    const cc = await client.clientCredentialsGrant(config, { resource: API_B, scope: 'orders' })
    expect(cc.token_type).toBe('bearer')
    expect(cc.scope).toBe('orders')
    expect(cc.expires_in).toBe(300)
    expect(cc.refresh_token).toBeUndefined()
    expect(cc.id_token).toBeUndefined()
    const { payload, protectedHeader } = await jwtVerify(cc.access_token, jwks, {
      issuer: t.url,
      audience: API_B,
      typ: 'at+jwt',
    })
    expect(protectedHeader.typ).toBe('at+jwt')
    expect(payload).toMatchObject({ sub: clientId, client_id: clientId, scope: 'orders' })
    expect(payload.sid).toBeUndefined()
    expect(payload.exp! - payload.iat!).toBe(300)
    expect(await client.tokenIntrospection(config, cc.access_token)).toMatchObject({
      active: true,
      sub: clientId,
      aud: API_B,
    })
    // No session and no refresh family for a client acting on its own behalf.
    expect(await t.store.listSessions({ clientId })).toHaveLength(before.length)

    // This client may call two APIs: it has to say which one.
    const err = await rejection(client.clientCredentialsGrant(config, { scope: 'orders' }))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.error).toBe('invalid_target')
  })
})

describe('openid-client, RP-initiated logout', () => {
  it('SES-04 buildEndSessionUrl() with id_token_hint, post_logout_redirect_uri and state: 303 to the registered URI with state; the session ends and its refresh token is invalid_grant', async () => {
    const config = await discover('web-app', client.None())
    const { tokens, jar, sessionId } = await signIn(config, WEB_REDIRECT)
    const session = await t.store.getSession(sessionId)
    expect(session?.browserSessionId).toBeTruthy()
    expect(jar.get('tessera_sso')).toBeTruthy()

    const state = client.randomState()
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token!,
      post_logout_redirect_uri: SIGNED_OUT,
      state,
    })
    expect(url.origin + url.pathname).toBe(t.url + '/logout')
    expect(url.searchParams.get('client_id')).toBe('web-app')

    const res = await browserFetch(jar, url.href)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?${new URLSearchParams({ state })}`)
    expect(jar.get('tessera_sso')).toBeUndefined()

    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'ended',
      reason: 'sign_out',
      endedAt: t.clock.now(),
    })
    const browser = await t.store.getBrowserSession(session!.browserSessionId!)
    expect(browser?.endedAt).toBe(t.clock.now())
    const events = await t.store.listEvents({ type: 'sign_out', sessionId })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ userId: alice.id, clientId: 'web-app' })

    const err = await rejection(client.refreshTokenGrant(config, tokens.refresh_token!))
    expect(err).toBeInstanceOf(client.ResponseBodyError)
    expect(err.error).toBe('invalid_grant')
    const rs = await discover('confidential-app', client.ClientSecretBasic(CONFIDENTIAL_SECRET))
    expect({ ...(await client.tokenIntrospection(rs, tokens.access_token)) }).toEqual({
      active: false,
    })

    // The browser is signed out too: the next authorization request shows the sign-in form.
    const again = await authorizationRequest(config, WEB_REDIRECT)
    expect(isLoginRedirect(t, await browserFetch(jar, again.url.href))).toBe(true)
  })
})
