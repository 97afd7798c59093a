/**
 * Interoperability of the client's DPoP (RFC 9449) with `oidc-provider`, an independent, certified
 * implementation, on loopback: with server nonces required (one extra token request, then the
 * nonce is remembered), tokens and the public client's refresh token bound to the client's key
 * (a stolen refresh token is refused without it), bound tokens accepted by @tessera/verify; and a
 * provider without DPoP, whose bearer tokens the client then sends as bearer tokens.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, type JWK } from 'jose'
import Provider from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dpopKey, makeProof } from '../../../server/test/helpers/dpop.js'
import { postForm } from '../../../server/test/helpers/grants.js'
import { createTesseraClient, memoryStorage } from '../../src/index.js'
import { dpopSigner, webCryptoDpopKeys } from '../../src/dpop/index.js'
import { CountingFetch } from '../helpers/counting-fetch.js'
import { inspectableKeyPairs } from '../helpers/dpop-keys.js'
import { followInteractions } from '../helpers/oidc-provider-interactions.js'
import { VerifiedApi } from '../helpers/verified-api.js'

const REDIRECT = 'https://app.example.test/callback'

interface RunningProvider {
  issuer: string
  close(): Promise<void>
}

async function startProvider(api: string, dPoP: boolean): Promise<RunningProvider> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const priv = { ...(await exportJWK(privateKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  const server: Server = createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  const issuer = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'spa',
        token_endpoint_auth_method: 'none',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [priv] },
    cookies: { keys: ['interop-cookie-key-0123456789abcdef'] },
    scopes: ['openid', 'offline_access', 'read'],
    findAccount: (_ctx, sub) =>
      Promise.resolve({ accountId: sub, claims: () => Promise.resolve({ sub }) }),
    features: {
      dPoP: dPoP
        ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
        : { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => Promise.resolve(undefined),
        useGrantedResource: () => Promise.resolve(false),
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== api) throw new Provider.errors.InvalidTarget()
          return Promise.resolve({
            scope: 'read',
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
  })
  server.on('request', provider.callback())
  return { issuer, close: () => new Promise<void>((r) => server.close(() => r())) }
}

/** The platform fetch, recording each request's path and DPoP and Authorization headers. */
class HeaderLog extends CountingFetch {
  readonly sent: { path: string; dpop: string | null; authorization: string | null }[] = []
  constructor() {
    super((input, init) => {
      const req = new Request(input, init)
      this.sent.push({
        path: new URL(req.url).pathname,
        dpop: req.headers.get('dpop'),
        authorization: req.headers.get('authorization'),
      })
      return fetch(req)
    })
  }
}

function newClient(p: RunningProvider, api: VerifiedApi) {
  const store = inspectableKeyPairs()
  const log = new HeaderLog()
  const storage = memoryStorage()
  const client = createTesseraClient({
    issuer: p.issuer,
    clientId: 'spa',
    redirectUri: REDIRECT,
    apis: [{ baseUrl: api.url, audience: api.url, scope: 'read' }],
    storage,
    fetch: log.fetch,
    autoRefresh: false,
    dpop: dpopSigner(webCryptoDpopKeys({ store })),
  })
  const signIn = async () =>
    client.handleRedirectCallback(await followInteractions(await client.signIn(), REDIRECT))
  return { client, store, log, storage, signIn }
}

describe('DPoP against oidc-provider with nonces required', () => {
  let p: RunningProvider
  const api = new VerifiedApi()

  beforeAll(async () => {
    await api.start(() => p.issuer)
    p = await startProvider(api.url, true)
  })
  afterAll(async () => {
    await p.close()
    await api.close()
  })

  it('the code exchange makes exactly one extra request (use_dpop_nonce); the refresh reuses the nonce; the tokens are bound to the key', async () => {
    const { client, store, log, signIn } = newClient(p, api)
    await signIn()
    const token = () => log.sent.filter((s) => s.path === '/token')
    expect(log.tokenCalls.map((c) => c.grantType)).toEqual([
      'authorization_code',
      'authorization_code',
    ])
    expect(decodeJwt(token()[0]!.dpop!).nonce).toBeUndefined()
    const nonce = decodeJwt(token()[1]!.dpop!).nonce
    expect(nonce).toEqual(expect.any(String))
    const at = await client.getToken({ audience: api.url })
    expect(log.refreshes()).toHaveLength(1)
    expect(decodeJwt(token()[2]!.dpop!).nonce).toBe(nonce)
    const pub = await crypto.subtle.exportKey('jwk', [...store.pairs.values()][0]!.publicKey)
    expect(decodeJwt(at).cnf).toEqual({ jkt: await calculateJwkThumbprint(pub as JWK) })
    client.dispose()
  })

  it('the bound access token is accepted by @tessera/verify with a proof of the request', async () => {
    const { client, log, signIn } = newClient(p, api)
    await signIn()
    const res = await client.fetch(`${api.url}/orders`)
    expect(res.status).toBe(200)
    const sent = log.sent.find((s) => s.path === '/orders')!
    expect(sent.authorization).toMatch(/^DPoP /)
    expect(decodeJwt(sent.dpop!)).toMatchObject({ htm: 'GET', htu: `${api.url}/orders` })
    client.dispose()
  })

  it('RT-18 the public client refresh token is bound: stolen, it is refused without the key and with another key', async () => {
    const { client, storage, signIn } = newClient(p, api)
    await signIn()
    const stolen = JSON.parse((await storage.get('tessera.spa.session'))!).refreshToken as string
    const form = { grant_type: 'refresh_token', refresh_token: stolen, client_id: 'spa' }
    const bare = await postForm(`${p.issuer}/token`, form)
    expect(bare.status).toBe(400)
    expect(bare.body.error).toBe('invalid_grant')
    // Another key, with the server's current nonce (as a thief would get it).
    const thief = await dpopKey('ES256')
    const proof = (nonce?: string) =>
      makeProof(thief, { htu: `${p.issuer}/token`, ...(nonce ? { nonce } : {}) }, Date.now())
    const first = await postForm(`${p.issuer}/token`, form, { dpop: proof() })
    const nonce = first.headers.get('dpop-nonce') ?? undefined
    const other = await postForm(`${p.issuer}/token`, form, { dpop: proof(nonce) })
    expect(other.status).toBe(400)
    expect(other.body.error).toBe('invalid_grant')
    // The owner still refreshes.
    await expect(client.getToken({ audience: api.url })).resolves.toMatch(/\./)
    client.dispose()
  })
})

describe('DPoP with a provider that does not support it', () => {
  let p: RunningProvider
  const api = new VerifiedApi()

  beforeAll(async () => {
    await api.start(() => p.issuer)
    p = await startProvider(api.url, false)
  })
  afterAll(async () => {
    await p.close()
    await api.close()
  })

  it('bearer tokens (token_type Bearer) go to APIs as Bearer without a proof', async () => {
    const { client, log, signIn } = newClient(p, api)
    await signIn()
    const res = await client.fetch(`${api.url}/orders`)
    expect(res.status).toBe(200)
    const sent = log.sent.find((s) => s.path === '/orders')!
    expect(sent.authorization).toMatch(/^Bearer /)
    expect(sent.dpop).toBeNull()
    client.dispose()
  })
})
