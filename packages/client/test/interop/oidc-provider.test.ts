/**
 * Interoperability: the client against `oidc-provider` (an independent, certified OpenID
 * provider) on loopback, with refresh token rotation on and no grace window, PKCE required and
 * resource indicators (RFC 8707) on. Sign-in goes through its development interaction pages over
 * HTTP (login, then consent), as a browser would.
 */
import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet, decodeJwt } from 'jose'
import Provider from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type TesseraClient,
  type TesseraClientOptions,
} from '../../src/index.js'
import { ShiftedClock } from '../helpers/clocks.js'
import { CountingFetch } from '../helpers/counting-fetch.js'
import { followInteractions } from '../helpers/oidc-provider-interactions.js'

const REDIRECT = 'https://app.example.test/callback'
const API_ONE = 'https://orders.example.test'
const API_TWO = 'https://billing.example.test'

let server: Server
let issuer: string
let provider: Provider
let jwks: { keys: object[] }

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const priv = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }
  server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  issuer = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT],
        post_logout_redirect_uris: ['https://app.example.test/signed-out'],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [priv] },
    cookies: { keys: ['interop-cookie-key-0123456789abcdef'] },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'read', 'pay'],
    claims: { openid: ['sub'], profile: ['name'] },
    findAccount: (_ctx, sub) =>
      Promise.resolve({
        accountId: sub,
        claims: () => Promise.resolve({ sub, name: `User ${sub}` }),
      }),
    features: {
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Promise.resolve(undefined),
        useGrantedResource: () => Promise.resolve(false),
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API_ONE && resource !== API_TWO) {
            throw new Provider.errors.InvalidTarget()
          }
          return Promise.resolve({
            scope: resource === API_ONE ? 'read' : 'pay',
            audience: resource,
            accessTokenTTL: 900,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          })
        },
      },
    },
    rotateRefreshToken: true,
    issueRefreshToken: () => Promise.resolve(true),
    ttl: {
      AccessToken: 900,
      IdToken: 3600,
      RefreshToken: 14 * 86_400,
      Grant: 14 * 86_400,
      Session: 86_400,
      Interaction: 600,
    },
  })
  server.on('request', provider.callback())
})

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()))
})

function newClient(o: Partial<TesseraClientOptions> = {}) {
  const counting = new CountingFetch()
  const storage = memoryStorage()
  const client = createTesseraClient({
    issuer,
    clientId: 'spa',
    redirectUri: REDIRECT,
    apis: [
      { baseUrl: API_ONE, audience: API_ONE, scope: 'read' },
      { baseUrl: API_TWO, audience: API_TWO, scope: 'pay' },
    ],
    storage,
    fetch: counting.fetch,
    autoRefresh: false,
    ...o,
  })
  return { client, counting, storage }
}

async function signIn(client: TesseraClient) {
  return client.handleRedirectCallback(await followInteractions(await client.signIn(), REDIRECT))
}

async function rejection(p: Promise<unknown>): Promise<TesseraClientError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraClientError)
    return err as TesseraClientError
  }
  throw new Error('expected a rejection')
}

describe('@tessera/client against oidc-provider', () => {
  it('signs in: discovery, PKCE, the interaction pages, iss on the callback, ID token verified', async () => {
    const { client, counting } = newClient()
    const url = await client.signIn()
    expect(url.searchParams.getAll('resource')).toEqual([API_ONE, API_TWO])
    const cb = await followInteractions(url, REDIRECT)
    expect(cb.searchParams.get('iss')).toBe(issuer)
    const r = await client.handleRedirectCallback(cb)
    expect(r.user).toMatchObject({ sub: 'alice', iss: issuer, aud: 'spa' })
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', isSignedIn: true })
    expect(client.getSnapshot().user?.sub).toBe('alice')
    expect(counting.tokenCalls.map((c) => c.grantType)).toEqual(['authorization_code'])
    client.dispose()
  })

  it('tokens for two audiences from one refresh token, each with only its own audience; strict rotation on every refresh', async () => {
    const { client, counting } = newClient()
    await signIn(client)
    const one = await client.getToken({ audience: API_ONE })
    const two = await client.getToken({ audience: API_TWO })
    const set = createLocalJWKSet(jwks)
    const a = await jwtVerify(one, set, { issuer, audience: API_ONE })
    const b = await jwtVerify(two, set, { issuer, audience: API_TWO })
    expect(a.payload).toMatchObject({ aud: API_ONE, scope: 'read', sub: 'alice' })
    expect(b.payload).toMatchObject({ aud: API_TWO, scope: 'pay', sub: 'alice' })
    const calls = counting.refreshes()
    expect(calls.map((c) => c.resource)).toEqual([[API_ONE], [API_TWO]])
    // The second refresh presented the token the first one returned (rotation, one chain).
    expect(calls[0]!.refreshToken).not.toBe(calls[1]!.refreshToken)
    expect(await client.getToken({ audience: API_ONE })).toBe(one)
    expect(counting.refreshes()).toHaveLength(2)
    client.dispose()
  })

  it('refreshes an expired token on read; 200 concurrent calls share one refresh (no grace window to lean on)', async () => {
    const clock = new ShiftedClock()
    const { client, counting } = newClient({ clock })
    await signIn(client)
    const t1 = await client.getToken({ audience: API_ONE })
    clock.offset = 16 * 60_000
    const n = counting.refreshes().length
    const tokens = await Promise.all(
      Array.from({ length: 200 }, () => client.getToken({ audience: API_ONE })),
    )
    expect(counting.refreshes().length - n).toBe(1)
    expect(new Set(tokens).size).toBe(1)
    expect(tokens[0]).not.toBe(t1)
    expect(decodeJwt(tokens[0]!).aud).toBe(API_ONE)
    expect(client.getSnapshot().status).toBe('signed-in')
    client.dispose()
  })

  it('SDK-02 SDK-08 with strict rotation a lost refresh response cannot be recovered: the in-call retry is refused and the session cleared once (refresh_reused), no loop', async () => {
    const { client, counting } = newClient({ backoff: { baseMs: 20, maxMs: 40 } })
    await signIn(client)
    let lost = 0
    counting.afterToken = (c) =>
      c.grantType === 'refresh_token' && lost++ === 0 ? 'lose' : undefined
    expect((await rejection(client.getToken({ audience: API_ONE }))).code).toBe('refresh_reused')
    expect(client.getSnapshot().status).toBe('signed-out')
    expect(client.getSnapshot().reason).toBe('refresh_reused')
    const presented = counting.refreshes().map((c) => c.refreshToken)
    expect(presented).toHaveLength(2)
    expect(presented[0]).toBe(presented[1])
    expect((await rejection(client.getToken({ audience: API_ONE }))).code).toBe('login_required')
    expect(counting.refreshes()).toHaveLength(2)
    client.dispose()
  })

  it('signs out: local state cleared, the refresh token revoked at the provider, the end-session URL returned', async () => {
    const { client, counting, storage } = newClient({
      postLogoutRedirectUri: 'https://app.example.test/signed-out',
    })
    await signIn(client)
    await client.getToken({ audience: API_ONE })
    const rt = JSON.parse((await storage.get('tessera.spa.session'))!).refreshToken as string
    const { endSessionUrl } = await client.signOut()
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'sign_out' })
    expect(await storage.get('tessera.spa.session')).toBeNull()
    expect(counting.revocations).toHaveLength(1)
    // The revoked refresh token is dead at the provider.
    const res = await fetch(issuer + '/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: 'spa',
      }),
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant')
    expect(endSessionUrl?.href.startsWith(issuer + '/session/end?')).toBe(true)
    expect(endSessionUrl?.searchParams.get('id_token_hint')).toMatch(/^ey/)
    expect(endSessionUrl?.searchParams.get('post_logout_redirect_uri')).toBe(
      'https://app.example.test/signed-out',
    )
    client.dispose()
  })
})
