/**
 * Interoperability of DPoP (RFC 9449): `oauth4webapi`'s DPoP handle (its own proofs, WebCrypto
 * keys) for the code exchange with `dpop_jkt`, the refresh and userinfo against a real Tessera
 * server; its resource-server side (`validateJwtAccessToken` with `requireDPoP`) accepting our
 * bound API tokens; and its nonce handling (`isDPoPNonceError`) against `dpop.requireNonce`.
 * The issuer is plain http on loopback, hence `allowInsecureRequests`; nothing else is relaxed.
 */
import { decodeJwt } from 'jose'
import * as oauth from 'oauth4webapi'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_A, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'
import {
  ALICE,
  followAuthorization,
  refreshTokenParts,
  startInteropServer,
} from './hosted-sign-in.js'

const insecure = { [oauth.allowInsecureRequests]: true } as const
const webApp: oauth.Client = { client_id: 'web-app' }

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the call to fail')
}

interface Setup {
  t: TestServer
  as: oauth.AuthorizationServer
}

async function setup(config: Parameters<typeof startInteropServer>[0] = {}): Promise<Setup> {
  const t = await startInteropServer(config)
  await t.createUser(ALICE.username, ALICE.password)
  const issuer = new URL(t.url)
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, insecure),
  )
  return { t, as }
}

/** The front channel, as a browser would do it; returns the validated callback parameters. */
async function signIn(
  s: Setup,
  dpop: oauth.DPoPHandle,
): Promise<{ params: URLSearchParams; codeVerifier: string }> {
  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const url = new URL(s.as.authorization_endpoint!)
  url.search = new URLSearchParams({
    client_id: webApp.client_id,
    response_type: 'code',
    redirect_uri: WEB_REDIRECT,
    scope: 'openid profile offline_access read',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    dpop_jkt: await dpop.calculateThumbprint(),
  }).toString()
  const { callback } = await followAuthorization(s.t, url)
  return { params: oauth.validateAuthResponse(s.as, webApp, callback, state), codeVerifier }
}

describe('oauth4webapi DPoP handle against Tessera', () => {
  let s: Setup
  let keyPair: CryptoKeyPair
  let dpop: oauth.DPoPHandle
  let tokens: oauth.TokenEndpointResponse
  let jkt: string

  beforeAll(async () => {
    s = await setup()
    keyPair = await oauth.generateKeyPair('ES256')
    dpop = oauth.DPoP(webApp, keyPair)
    jkt = await dpop.calculateThumbprint()
  })
  afterAll(async () => {
    await s.t.close()
  })

  it('metadata advertises the DPoP algorithms', () => {
    expect(s.as.dpop_signing_alg_values_supported).toEqual([
      'ES256',
      'EdDSA',
      'Ed25519',
      'RS256',
      'PS256',
    ])
  })

  it('code exchange with dpop_jkt and a proof: token_type dpop, access token bound, session bound', async () => {
    const { params, codeVerifier } = await signIn(s, dpop)
    const response = await oauth.authorizationCodeGrantRequest(
      s.as,
      webApp,
      oauth.None(),
      params,
      WEB_REDIRECT,
      codeVerifier,
      { ...insecure, DPoP: dpop },
    )
    tokens = await oauth.processAuthorizationCodeResponse(s.as, webApp, response, {
      requireIdToken: true,
    })
    expect(tokens.token_type).toBe('dpop')
    expect(decodeJwt(tokens.access_token).cnf).toEqual({ jkt })
    const { sessionId } = refreshTokenParts(tokens.refresh_token!)
    expect((await s.t.store.getSession(sessionId))?.dpopJkt).toBe(jkt)
  })

  it('refreshTokenGrantRequest() with the handle rotates; without it, invalid_grant (RT-18)', async () => {
    const noProof = await oauth.refreshTokenGrantRequest(
      s.as,
      webApp,
      oauth.None(),
      tokens.refresh_token!,
      insecure,
    )
    const err = await rejection(oauth.processRefreshTokenResponse(s.as, webApp, noProof))
    expect(err).toBeInstanceOf(oauth.ResponseBodyError)
    expect(err.error).toBe('invalid_grant')

    // Another client key (another handle) is refused the same way.
    const stranger = oauth.DPoP(webApp, await oauth.generateKeyPair('ES256'))
    const foreign = await oauth.refreshTokenGrantRequest(
      s.as,
      webApp,
      oauth.None(),
      tokens.refresh_token!,
      { ...insecure, DPoP: stranger },
    )
    const err2 = await rejection(oauth.processRefreshTokenResponse(s.as, webApp, foreign))
    expect(err2.error).toBe('invalid_grant')

    const response = await oauth.refreshTokenGrantRequest(
      s.as,
      webApp,
      oauth.None(),
      tokens.refresh_token!,
      { ...insecure, DPoP: dpop },
    )
    const next = await oauth.processRefreshTokenResponse(s.as, webApp, response)
    expect(next.token_type).toBe('dpop')
    expect(next.refresh_token).not.toBe(tokens.refresh_token)
    expect(refreshTokenParts(next.refresh_token!).generation).toBe(1)
    tokens = next
  })

  it('userInfoRequest() with the handle sends the DPoP scheme and a proof with ath: accepted', async () => {
    const response = await oauth.userInfoRequest(s.as, webApp, tokens.access_token, {
      ...insecure,
      DPoP: dpop,
    })
    const claims = await oauth.processUserInfoResponse(
      s.as,
      webApp,
      decodeJwt(tokens.access_token).sub!,
      response,
    )
    expect(claims.preferred_username).toBe(ALICE.username)
  })

  it('the bound access token sent as Bearer is refused with a DPoP challenge', async () => {
    const response = await oauth.userInfoRequest(s.as, webApp, tokens.access_token, insecure)
    const err = await rejection(
      oauth.processUserInfoResponse(s.as, webApp, oauth.skipSubjectCheck, response),
    )
    expect(err).toBeInstanceOf(oauth.WWWAuthenticateChallengeError)
    expect(err.cause).toEqual([
      {
        scheme: 'dpop',
        parameters: {
          realm: 'tessera',
          error: 'invalid_token',
          error_description: 'the access token is DPoP-bound: send it with the DPoP scheme',
          algs: 'ES256 EdDSA Ed25519 RS256 PS256',
        },
      },
    ])
  })

  it('validateJwtAccessToken() with requireDPoP (an independent resource server) accepts our bound API token', async () => {
    const response = await oauth.refreshTokenGrantRequest(
      s.as,
      webApp,
      oauth.None(),
      tokens.refresh_token!,
      { ...insecure, DPoP: dpop, additionalParameters: { resource: API_A } },
    )
    tokens = await oauth.processRefreshTokenResponse(s.as, webApp, response)
    // Capture the request oauth4webapi would send to the API, proof included.
    let captured: Request | undefined
    await oauth.protectedResourceRequest(
      tokens.access_token,
      'GET',
      new URL(`${API_A}/orders`),
      undefined,
      undefined,
      {
        DPoP: dpop,
        [oauth.customFetch]: (url, init) => {
          // A GET without a body: only the method and the headers matter.
          captured = new Request(url, { method: init.method, headers: init.headers })
          return Promise.resolve(new Response('{}'))
        },
      },
    )
    expect(captured!.headers.get('authorization')).toBe(`DPoP ${tokens.access_token}`)
    const claims = await oauth.validateJwtAccessToken(s.as, captured!, API_A, {
      ...insecure,
      requireDPoP: true,
    })
    expect(claims.cnf).toEqual({ jkt })
  })
})

describe('oauth4webapi nonce handling against dpop.requireNonce', () => {
  let s: Setup
  beforeAll(async () => {
    s = await setup({ dpop: { requireNonce: true } })
  })
  afterAll(async () => {
    await s.t.close()
  })

  it('the first token request gets use_dpop_nonce; the retry carries the nonce the handle cached', async () => {
    const dpop = oauth.DPoP(webApp, await oauth.generateKeyPair('EdDSA'))
    const { params, codeVerifier } = await signIn(s, dpop)
    const grant = () =>
      oauth.authorizationCodeGrantRequest(
        s.as,
        webApp,
        oauth.None(),
        params,
        WEB_REDIRECT,
        codeVerifier,
        { ...insecure, DPoP: dpop },
      )
    const err = await rejection(
      grant().then((r) => oauth.processAuthorizationCodeResponse(s.as, webApp, r)),
    )
    expect(oauth.isDPoPNonceError(err)).toBe(true)
    // The code was not burned by the refused attempt.
    const tokens = await oauth.processAuthorizationCodeResponse(s.as, webApp, await grant())
    expect(tokens.token_type).toBe('dpop')

    const refreshed = await oauth.processRefreshTokenResponse(
      s.as,
      webApp,
      await oauth.refreshTokenGrantRequest(s.as, webApp, oauth.None(), tokens.refresh_token!, {
        ...insecure,
        DPoP: dpop,
      }),
    )
    const info = await oauth.processUserInfoResponse(
      s.as,
      webApp,
      oauth.skipSubjectCheck,
      await oauth.userInfoRequest(s.as, webApp, refreshed.access_token, {
        ...insecure,
        DPoP: dpop,
      }),
    )
    expect(info.preferred_username).toBe(ALICE.username)
  })
})
