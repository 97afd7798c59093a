/**
 * Interoperability: `oauth4webapi` (the certified low-level OAuth 2 / OpenID Connect library under
 * openid-client) against a real Tessera server, one protocol step at a time, plus RFC 9068 access
 * token validation as a resource server would do it (`validateJwtAccessToken`, and `jose` against
 * the JWKS). The issuer is plain http on loopback, so every request passes the library's
 * documented escape hatch `allowInsecureRequests`; nothing else is relaxed.
 */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { seconds } from '../../src/lib/clock.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'
import {
  ALICE,
  expectedAtHash,
  followAuthorization,
  refreshTokenParts,
  startInteropServer,
  useInteropServer,
} from './hosted-sign-in.js'

/** Tests only: the test server's issuer is http://127.0.0.1:<port>. */
const insecure = { [oauth.allowInsecureRequests]: true } as const

const webApp: oauth.Client = { client_id: 'web-app' }
/** The resource server of API A and B (RESOURCE_SERVER). */
const resourceServer: oauth.Client = { client_id: 'api-rs' }
const resourceServerAuth = oauth.ClientSecretBasic(CONFIDENTIAL_SECRET)

let t: TestServer
let alice: UserRecord
let issuer: URL
let as: oauth.AuthorizationServer

useInteropServer((s) => ({ t, alice, issuer } = s))

/** The rejection of `p`, which must reject. */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the call to fail')
}

async function introspect(token: string): Promise<oauth.IntrospectionResponse> {
  const res = await oauth.introspectionRequest(
    as,
    resourceServer,
    resourceServerAuth,
    token,
    insecure,
  )
  return oauth.processIntrospectionResponse(as, resourceServer, res)
}

async function refresh(
  refreshToken: string,
  resource?: string,
): Promise<{ response: Response; tokens: oauth.TokenEndpointResponse }> {
  const response = await oauth.refreshTokenGrantRequest(as, webApp, oauth.None(), refreshToken, {
    ...insecure,
    ...(resource ? { additionalParameters: { resource } } : {}),
  })
  const tokens = await oauth.processRefreshTokenResponse(as, webApp, response)
  return { response, tokens }
}

/** A bearer request to an API, as its middleware would receive it. */
function apiRequest(audience: string, accessToken: string): Request {
  return new Request(audience + '/orders', { headers: { authorization: `Bearer ${accessToken}` } })
}

describe('oauth4webapi, authorization server metadata', () => {
  it('discoveryRequest() + processDiscoveryResponse() accept the OpenID and the RFC 8414 documents, which agree', async () => {
    as = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
    )
    const rfc8414 = await oauth.processDiscoveryResponse(
      issuer,
      await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }),
    )
    expect(rfc8414).toEqual(as)
    expect(as.issuer).toBe(t.url)
    expect(as.authorization_response_iss_parameter_supported).toBe(true)
    expect(as.code_challenge_methods_supported).toEqual(['S256'])
    expect(as.response_types_supported).toEqual(['code'])
    expect(as.id_token_signing_alg_values_supported).toEqual(['ES256'])
    expect(as.introspection_endpoint_auth_methods_supported).toEqual([
      'client_secret_basic',
      'client_secret_post',
    ])
  })

  it('SDK-07 the metadata is refused when the client expects another issuer', async () => {
    const err = await rejection(
      oauth.processDiscoveryResponse(
        new URL('https://auth.example.test'),
        await oauth.discoveryRequest(issuer, insecure),
      ),
    )
    expect(err).toBeInstanceOf(oauth.OperationProcessingError)
    expect(err.code).toBe(oauth.JSON_ATTRIBUTE_COMPARISON)
    expect(err.cause).toMatchObject({ attribute: 'issuer' })
  })
})

describe('oauth4webapi, code flow of the public client web-app', () => {
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  let callback: URL
  let params: URLSearchParams
  let first: oauth.TokenEndpointResponse
  let idClaims: oauth.IDToken
  let sessionId: string

  it('RDR-09 validateAuthResponse() with the iss check on accepts the callback of the hosted form', async () => {
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      client_id: webApp.client_id,
      response_type: 'code',
      redirect_uri: WEB_REDIRECT,
      scope: 'openid profile email offline_access read orders',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).toString()
    callback = (await followAuthorization(t, url)).callback
    expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)

    params = oauth.validateAuthResponse(as, webApp, callback, state)
    expect(params.get('iss')).toBe(t.url)
    expect(params.get('state')).toBe(state)
    expect(params.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/)

    // The check is on because the metadata advertises it: a missing or foreign iss is refused.
    const noIss = new URL(callback)
    noIss.searchParams.delete('iss')
    const foreignIss = new URL(callback)
    foreignIss.searchParams.set('iss', 'https://evil.example.test')
    for (const [bad, message] of [
      [noIss, 'response parameter "iss" (issuer) missing'],
      [foreignIss, 'unexpected "iss" (issuer) response parameter value'],
    ] as const) {
      let err: any
      try {
        oauth.validateAuthResponse(as, webApp, bad, state)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(oauth.OperationProcessingError)
      expect(err.code).toBe(oauth.INVALID_RESPONSE)
      expect(err.message).toBe(message)
    }
  })

  it('RDR-09 error responses carry iss too: validateAuthResponse() checks it, then reports the error', async () => {
    const errState = oauth.generateRandomState()
    const request = (extra: Record<string, string>) => {
      const url = new URL(as.authorization_endpoint!)
      url.search = new URLSearchParams({
        client_id: webApp.client_id,
        response_type: 'code',
        redirect_uri: WEB_REDIRECT,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        state: errState,
        ...extra,
      }).toString()
      return url
    }
    // A scope the client may not have: reported after sign-in (RDR-06), to the redirect URI.
    const badScope = await followAuthorization(t, request({ scope: 'openid admin' }))
    expect(badScope.signedIn).toBe(true)
    // prompt=none without a session: login_required at once, no form.
    const noSession = await followAuthorization(t, request({ scope: 'openid', prompt: 'none' }))
    expect(noSession.signedIn).toBe(false)
    for (const [{ callback: cb }, error] of [
      [badScope, 'invalid_scope'],
      [noSession, 'login_required'],
    ] as const) {
      expect(cb.origin + cb.pathname).toBe(WEB_REDIRECT)
      expect(cb.searchParams.get('iss')).toBe(t.url)
      expect(cb.searchParams.get('code')).toBeNull()
      const err = await rejection(
        Promise.resolve().then(() => oauth.validateAuthResponse(as, webApp, cb, errState)),
      )
      expect(err).toBeInstanceOf(oauth.AuthorizationResponseError)
      expect(err.error).toBe(error)
      expect(err.error_description).toMatch(/\S/)
      const foreign = new URL(cb)
      foreign.searchParams.set('iss', 'https://evil.example.test')
      const forged = await rejection(
        Promise.resolve().then(() => oauth.validateAuthResponse(as, webApp, foreign, errState)),
      )
      expect(forged).toBeInstanceOf(oauth.OperationProcessingError)
      expect(forged.message).toBe('unexpected "iss" (issuer) response parameter value')
    }
  })

  it('authorizationCodeGrantRequest() + processAuthorizationCodeResponse(): ID token with the nonce, its signature verified against the JWKS', async () => {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      webApp,
      oauth.None(),
      params,
      WEB_REDIRECT,
      codeVerifier,
      insecure,
    )
    expect(response.status).toBe(200)
    // TOK-01
    expect(response.headers.get('cache-control')).toBe('no-store')
    first = await oauth.processAuthorizationCodeResponse(as, webApp, response, {
      expectedNonce: nonce,
      requireIdToken: true,
    })
    await oauth.validateApplicationLevelSignature(as, response, insecure)

    expect(first.token_type).toBe('bearer')
    expect(first.scope).toBe('openid profile email offline_access')
    const rt = refreshTokenParts(first.refresh_token!)
    expect(rt.generation).toBe(0)
    sessionId = rt.sessionId
    expect(first.refresh_token_expires_in).toBe(14 * 86_400)

    idClaims = oauth.getValidatedIdTokenClaims(first)!
    expect(idClaims).toMatchObject({
      iss: t.url,
      sub: alice.id,
      aud: 'web-app',
      azp: 'web-app',
      nonce,
      sid: sessionId,
      amr: ['pwd'],
    })
    expect(idClaims.at_hash).toBe(expectedAtHash(first.access_token, first.id_token!))

    const s = await t.store.getSession(sessionId)
    expect(s).toMatchObject({ state: 'active', userId: alice.id, clientId: 'web-app' })
    expect(seconds(s!.authTime)).toBe(idClaims.auth_time)
  })

  it('CODE-01 the same authorization response redeemed again is invalid_grant', async () => {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      webApp,
      oauth.None(),
      params,
      WEB_REDIRECT,
      codeVerifier,
      insecure,
    )
    const err = await rejection(
      oauth.processAuthorizationCodeResponse(as, webApp, response, { expectedNonce: nonce }),
    )
    expect(err).toBeInstanceOf(oauth.ResponseBodyError)
    expect(err.status).toBe(400)
    expect(err.error).toBe('invalid_grant')
    // RFC 6749 4.1.2: what the first redemption issued is revoked.
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'revoked',
      reason: 'code_reuse',
    })
  })
})

describe('oauth4webapi, refresh, RFC 9068 access tokens, introspection and revocation', () => {
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const nonce = oauth.generateRandomNonce()
  let first: oauth.TokenEndpointResponse
  let idClaims: oauth.IDToken
  let sessionId: string
  let second: oauth.TokenEndpointResponse
  let forA: oauth.TokenEndpointResponse
  let forB: oauth.TokenEndpointResponse

  it('signs in (code flow with PKCE S256 and nonce)', async () => {
    const state = oauth.generateRandomState()
    const url = new URL(as.authorization_endpoint!)
    url.search = new URLSearchParams({
      client_id: webApp.client_id,
      response_type: 'code',
      redirect_uri: WEB_REDIRECT,
      scope: 'openid profile email offline_access read orders',
      code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).toString()
    const { callback } = await followAuthorization(t, url)
    const params = oauth.validateAuthResponse(as, webApp, callback, state)
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      webApp,
      oauth.None(),
      params,
      WEB_REDIRECT,
      codeVerifier,
      insecure,
    )
    first = await oauth.processAuthorizationCodeResponse(as, webApp, response, {
      expectedNonce: nonce,
    })
    idClaims = oauth.getValidatedIdTokenClaims(first)!
    sessionId = refreshTokenParts(first.refresh_token!).sessionId
    expect(idClaims.sid).toBe(sessionId)
  })

  it('RT-15 refreshTokenGrantRequest() + processRefreshTokenResponse(): a new refresh token and an ID token with the original iss, sub, aud, azp, auth_time', async () => {
    t.clock.advance(3000)
    const { response, tokens } = await refresh(first.refresh_token!)
    second = tokens
    await oauth.validateApplicationLevelSignature(as, response, insecure)
    expect(refreshTokenParts(second.refresh_token!)).toEqual({ sessionId, generation: 1 })
    const c = oauth.getValidatedIdTokenClaims(second)!
    for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time', 'sid'] as const) {
      expect(c[claim], claim).toEqual(idClaims[claim])
    }
    expect(c.iat).toBe(idClaims.iat + 3)
    expect(c.at_hash).toBe(expectedAtHash(second.access_token, second.id_token!))
    expect(await t.store.getSession(sessionId)).toMatchObject({ generation: 1, graceUses: 0 })
  })

  it('RT-04 the previous refresh token replayed inside the grace window returns the current one, no new branch', async () => {
    const { tokens } = await refresh(first.refresh_token!)
    expect(tokens.refresh_token).toBe(second.refresh_token)
    expect(tokens.access_token).not.toBe(second.access_token)
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'active',
      generation: 1,
      graceUses: 1,
    })
  })

  it('refreshes with resource get one access token per API (RFC 8707), each with one audience', async () => {
    forA = (await refresh(second.refresh_token!, API_A)).tokens
    expect(refreshTokenParts(forA.refresh_token!)).toEqual({ sessionId, generation: 2 })
    expect(forA.scope).toBe('read')
    forB = (await refresh(forA.refresh_token!, API_B)).tokens
    expect(refreshTokenParts(forB.refresh_token!)).toEqual({ sessionId, generation: 3 })
    expect(forB.scope).toBe('orders')
    expect(forB.expires_in).toBe(300)
    expect(decodeJwt(forA.access_token).aud).toBe(API_A)
    expect(decodeJwt(forB.access_token).aud).toBe(API_B)
  })

  it('validateJwtAccessToken() (RFC 9068) accepts the API token at its own API', async () => {
    const claims = await oauth.validateJwtAccessToken(
      as,
      apiRequest(API_A, forA.access_token),
      API_A,
      insecure,
    )
    expect(claims).toMatchObject({
      iss: t.url,
      aud: API_A,
      sub: alice.id,
      client_id: 'web-app',
      scope: 'read',
      sid: sessionId,
      auth_time: idClaims.auth_time,
      roles: ['admin'],
    })
    expect(claims.jti).toMatch(/\S/)
    expect(claims.exp - claims.iat).toBe(900)
  })

  it('TOK-06 / JWT-11 validateJwtAccessToken() refuses a token for another audience, and an ID token', async () => {
    const cases: [Request, string, string][] = [
      [apiRequest(API_B, forA.access_token), API_B, 'unexpected JWT "aud" (audience) claim value'],
      [apiRequest(API_A, first.access_token), API_A, 'unexpected JWT "aud" (audience) claim value'],
      [apiRequest(API_A, first.id_token!), API_A, 'unexpected JWT "typ" header parameter value'],
    ]
    for (const [request, audience, message] of cases) {
      const err = await rejection(oauth.validateJwtAccessToken(as, request, audience, insecure))
      expect(err).toBeInstanceOf(oauth.OperationProcessingError)
      expect(err.message).toBe(message)
    }
  })

  it('jose verifies each access token from the JWKS (typ at+jwt, issuer, audience), and only for its own audience', async () => {
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!))
    const byAudience: [string, string, string][] = [
      [t.url, first.access_token, 'openid profile email offline_access'],
      [API_A, forA.access_token, 'read'],
      [API_B, forB.access_token, 'orders'],
    ]
    for (const [audience, token, scope] of byAudience) {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: t.url,
        audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      })
      expect(protectedHeader).toMatchObject({ typ: 'at+jwt', alg: 'ES256' })
      expect(payload).toMatchObject({ aud: audience, sub: alice.id, client_id: 'web-app', scope })
      for (const [other] of byAudience.filter(([a]) => a !== audience)) {
        await expect(
          jwtVerify(token, jwks, { issuer: t.url, audience: other, typ: 'at+jwt' }),
        ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
      }
    }
    // JWT-11: the ID token is not an access token.
    await expect(
      jwtVerify(first.id_token!, jwks, { issuer: t.url, audience: 'web-app', typ: 'at+jwt' }),
    ).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'typ' })
  })

  it('SES-11/SES-12 introspectionRequest() by the resource server: the API access tokens are active; the refresh token and the issuer token are not its to see', async () => {
    for (const [token, aud] of [
      [forA.access_token, API_A],
      [forB.access_token, API_B],
    ] as const) {
      expect(await introspect(token)).toMatchObject({ active: true, aud, sid: sessionId })
    }
    expect(await t.store.getSession(sessionId)).toMatchObject({ state: 'active' })
    for (const token of [forB.refresh_token!, first.access_token]) {
      expect({ ...(await introspect(token)) }).toEqual({ active: false })
    }
  })

  it('SES-08 revocationRequest() of the refresh token ends the session: every token introspects inactive, and a refresh is invalid_grant', async () => {
    const response = await oauth.revocationRequest(
      as,
      webApp,
      oauth.None(),
      forB.refresh_token!,
      insecure,
    )
    expect(response.status).toBe(200)
    await oauth.processRevocationResponse(response)
    expect(await t.store.getSession(sessionId)).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
      endedAt: t.clock.now(),
    })
    for (const token of [
      forB.refresh_token!,
      first.access_token,
      forA.access_token,
      forB.access_token,
    ]) {
      expect({ ...(await introspect(token)) }).toEqual({ active: false })
    }
    const err = await rejection(refresh(forB.refresh_token!))
    expect(err).toBeInstanceOf(oauth.ResponseBodyError)
    expect(err.status).toBe(400)
    expect(err.error).toBe('invalid_grant')
  })

  it('SES-10 revocationRequest() of an unknown refresh token is 200 and changes nothing', async () => {
    const before = await t.store.listSessions({ userId: alice.id })
    const unknown = `tsr_${'A'.repeat(22)}.0.${'B'.repeat(43)}`
    const response = await oauth.revocationRequest(as, webApp, oauth.None(), unknown, insecure)
    await oauth.processRevocationResponse(response)
    expect(response.status).toBe(200)
    expect(await t.store.listSessions({ userId: alice.id })).toEqual(before)
  })
})

describe.each(['ES256', 'EdDSA', 'RS256'] as const)(
  'oauth4webapi, tokens signed with %s',
  (alg) => {
    let ts: TestServer
    let meta: oauth.AuthorizationServer
    beforeAll(async () => {
      ts = await startInteropServer({ signingAlg: alg })
      await ts.createUser(ALICE.username, ALICE.password)
      const iss = new URL(ts.url)
      meta = await oauth.processDiscoveryResponse(iss, await oauth.discoveryRequest(iss, insecure))
    })
    afterAll(async () => {
      await ts.close()
    })

    it('the ID token and an API access token verify against the JWKS, with at_hash and RFC 9068 claims', async () => {
      expect(meta.id_token_signing_alg_values_supported).toEqual([alg])
      const codeVerifier = oauth.generateRandomCodeVerifier()
      const state = oauth.generateRandomState()
      const nonce = oauth.generateRandomNonce()
      const url = new URL(meta.authorization_endpoint!)
      url.search = new URLSearchParams({
        client_id: webApp.client_id,
        response_type: 'code',
        redirect_uri: WEB_REDIRECT,
        scope: 'openid offline_access read',
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        resource: API_A,
      }).toString()
      const { callback } = await followAuthorization(ts, url)
      const params = oauth.validateAuthResponse(meta, webApp, callback, state)
      const response = await oauth.authorizationCodeGrantRequest(
        meta,
        webApp,
        oauth.None(),
        params,
        WEB_REDIRECT,
        codeVerifier,
        { ...insecure, additionalParameters: { resource: API_A } },
      )
      const tokens = await oauth.processAuthorizationCodeResponse(meta, webApp, response, {
        expectedNonce: nonce,
      })
      await oauth.validateApplicationLevelSignature(meta, response, insecure)
      const id = oauth.getValidatedIdTokenClaims(tokens)!
      expect(id).toMatchObject({ iss: ts.url, aud: 'web-app', nonce })
      expect(id.at_hash).toBe(expectedAtHash(tokens.access_token, tokens.id_token!))

      const claims = await oauth.validateJwtAccessToken(
        meta,
        apiRequest(API_A, tokens.access_token),
        API_A,
        { ...insecure, signingAlgorithms: [alg] },
      )
      expect(claims).toMatchObject({ iss: ts.url, aud: API_A, client_id: 'web-app', scope: 'read' })

      const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!))
      for (const [token, typ, audience] of [
        [tokens.access_token, 'at+jwt', API_A],
        [tokens.id_token!, 'JWT', 'web-app'],
      ] as const) {
        const { protectedHeader } = await jwtVerify(token, jwks, {
          issuer: ts.url,
          audience,
          typ,
          algorithms: [alg],
        })
        expect(protectedHeader.alg).toBe(alg)
      }
    })
  },
)
