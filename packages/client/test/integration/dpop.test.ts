/**
 * DPoP (RFC 9449) from the client against a real Tessera server and a real API checked by
 * @tessera/verify: every token request carries a proof of the client's key, the tokens and the
 * public client's refresh token are bound to it, `fetch` sends `Authorization: DPoP` with a
 * proof, and tokens stolen from storage are useless without the key (the test steals them).
 */
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose'
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dpopKey, makeProof, tokenProof } from '../../../server/test/helpers/dpop.js'
import { postForm } from '../../../server/test/helpers/grants.js'
import { memoryStorage, webCrypto } from '../../src/index.js'
import { dpopSigner, webCryptoDpopKeys, type DpopKeys } from '../../src/dpop/index.js'
import { CountingFetch } from '../helpers/counting-fetch.js'
import { inspectableKeyPairs } from '../helpers/dpop-keys.js'
import {
  clientFor,
  followSignIn,
  sessionIdOf,
  signIn,
  startTessera,
  storedSession,
  WEB_REDIRECT,
  type Tessera,
} from '../helpers/tessera.js'
import { VerifiedApi } from '../helpers/verified-api.js'

/** The platform fetch, recording the DPoP header of every request by path. */
class ProofLog extends CountingFetch {
  readonly proofs: { path: string; dpop: string | null; authorization: string | null }[] = []
  constructor() {
    super((input, init) => {
      const req = new Request(input, init)
      this.proofs.push({
        path: new URL(req.url).pathname,
        dpop: req.headers.get('dpop'),
        authorization: req.headers.get('authorization'),
      })
      return fetch(req)
    })
  }
}

async function thumbprintOf(pair: CryptoKeyPair): Promise<string> {
  const jwk = await crypto.subtle.exportKey('jwk', pair.publicKey)
  return calculateJwkThumbprint(jwk, 'sha256')
}

const sha256b64u = (s: string) => createHash('sha256').update(s).digest('base64url')

describe('DPoP with a client registered dpop: required', () => {
  let s: Tessera
  const verified = new VerifiedApi()

  beforeAll(async () => {
    s = await startTessera({ client: { dpop: 'required' }, verifiedApi: verified })
  })
  afterAll(async () => {
    await s.close()
  })

  function dpopClient() {
    const store = inspectableKeyPairs()
    const counting = new ProofLog()
    const storage = memoryStorage()
    const { client } = clientFor(s, {
      counting,
      storage,
      apis: [{ baseUrl: verified.url, audience: verified.url, scope: 'orders' }],
      dpop: dpopSigner(webCryptoDpopKeys({ store })),
    })
    return { client, store, counting, storage }
  }

  it('sign-in and refresh send a proof of one key; tokens and the session are bound to it', async () => {
    const { client, store, counting, storage } = dpopClient()
    await signIn(s, client)
    expect(store.pairs.size).toBe(1)
    const pair = [...store.pairs.values()][0]!
    const jkt = await thumbprintOf(pair)
    const token = await client.getToken({ audience: verified.url }) // a refresh
    expect(decodeJwt(token).cnf).toEqual({ jkt })
    const rec = await storedSession(storage)
    expect(decodeJwt(rec.tokens[s.t.url].accessToken).cnf).toEqual({ jkt })
    // The public client's refresh token is bound: the session row holds the key's thumbprint.
    const row = await s.t.store.getSession(sessionIdOf(rec.refreshToken))
    expect(row?.dpopJkt).toBe(jkt)
    const tokenRequests = counting.proofs.filter((p) => p.path === '/oauth/token')
    expect(tokenRequests).toHaveLength(2)
    const now = Math.floor(Date.now() / 1000)
    const jtis = new Set<string>()
    for (const r of tokenRequests) {
      const header = decodeProtectedHeader(r.dpop!)
      expect(header.typ).toBe('dpop+jwt')
      expect(header.alg).toBe('ES256')
      expect(Object.keys(header.jwk!).sort()).toEqual(['crv', 'kty', 'x', 'y'])
      expect(await calculateJwkThumbprint(header.jwk!, 'sha256')).toBe(jkt)
      const claims = decodeJwt(r.dpop!)
      expect(claims).toMatchObject({ htm: 'POST', htu: `${s.t.url}/oauth/token` })
      expect(claims.ath).toBeUndefined()
      expect(Math.abs((claims.iat as number) - now)).toBeLessThan(60)
      expect(claims.jti).toMatch(/^[A-Za-z0-9_-]{22}$/)
      jtis.add(claims.jti as string)
    }
    expect(jtis.size).toBe(2)
    client.dispose()
  })

  it('fetch sends the bound token as Authorization: DPoP with a proof of the request (htu without query, ath), and @tessera/verify accepts it', async () => {
    const { client, store, counting } = dpopClient()
    await signIn(s, client)
    const res = await client.fetch(`${verified.url}/orders/7?page=2#top`, { method: 'POST' })
    expect(res.status).toBe(200)
    const jkt = await thumbprintOf([...store.pairs.values()][0]!)
    expect(await res.json()).toEqual({ sub: s.alice.id, jkt })
    const sent = counting.proofs.find((p) => p.path === '/orders/7')!
    const token = await client.getToken({ audience: verified.url })
    expect(sent.authorization).toBe(`DPoP ${token}`)
    expect(decodeJwt(sent.dpop!)).toMatchObject({
      htm: 'POST',
      htu: `${verified.url}/orders/7`,
      ath: sha256b64u(token),
    })
    client.dispose()
  })

  it('a stolen access token is refused by the API without the key: as Bearer, as DPoP without a proof, and with a proof of another key', async () => {
    const { client, storage } = dpopClient()
    await signIn(s, client)
    expect((await client.fetch(`${verified.url}/orders`)).status).toBe(200)
    // The theft: the token as it sits in storage.
    const stolen: string = (await storedSession(storage)).tokens[verified.url].accessToken
    const url = `${verified.url}/orders`
    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${stolen}` } })
    expect(asBearer.status).toBe(401)
    expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP error="invalid_token"/)
    const noProof = await fetch(url, { headers: { authorization: `DPoP ${stolen}` } })
    expect(noProof.status).toBe(401)
    const thief = await dpopKey('ES256')
    const proof = makeProof(thief, { htm: 'GET', htu: url, accessToken: stolen }, Date.now())
    const otherKey = await fetch(url, { headers: { authorization: `DPoP ${stolen}`, dpop: proof } })
    expect(otherKey.status).toBe(401)
    expect(await otherKey.json()).toEqual({
      error: 'invalid_dpop_proof',
      error_description: 'the DPoP proof key is not the key the access token is bound to',
    })
    // The owner, with the key, is still served.
    expect((await client.fetch(url)).status).toBe(200)
    client.dispose()
  })

  it('a 401 DPoP error="invalid_token" challenge refreshes once and replays the request with the new token and a new proof', async () => {
    const { client, counting } = dpopClient()
    await signIn(s, client)
    const old = await client.getToken({ audience: verified.url })
    verified.revoked.add(old)
    const refreshes = counting.refreshes().length
    const res = await client.fetch(`${verified.url}/orders`)
    expect(res.status).toBe(200)
    expect(counting.refreshes().length - refreshes).toBe(1)
    const calls = counting.proofs.filter((p) => p.path === '/orders')
    expect(calls).toHaveLength(2)
    const fresh = await client.getToken({ audience: verified.url })
    expect(fresh).not.toBe(old)
    expect(calls.map((c) => c.authorization)).toEqual([`DPoP ${old}`, `DPoP ${fresh}`])
    expect(decodeJwt(calls[1]!.dpop!).ath).toBe(sha256b64u(fresh))
    client.dispose()
  })

  it('RT-18 a stolen refresh token is refused at the token endpoint without the key and with another key; nothing changes at the server', async () => {
    const { client, storage } = dpopClient()
    await signIn(s, client)
    const stolen: string = (await storedSession(storage)).refreshToken
    const id = sessionIdOf(stolen)
    const before = await s.t.store.getSession(id)
    const form = { grant_type: 'refresh_token', refresh_token: stolen, client_id: 'web-app' }
    const noProof = await postForm(`${s.t.url}/oauth/token`, form)
    expect(noProof.status).toBe(400)
    expect(noProof.body.error).toBe('invalid_dpop_proof')
    const thief = await dpopKey('ES256')
    const otherKey = await postForm(`${s.t.url}/oauth/token`, form, {
      dpop: tokenProof(s.t, thief),
    })
    expect(otherKey.status).toBe(400)
    expect(otherKey.body).toMatchObject({
      error: 'invalid_grant',
      error_description: 'the DPoP proof was not made with the key the refresh token is bound to',
    })
    const after = await s.t.store.getSession(id)
    expect(after?.generation).toBe(before?.generation)
    expect(after?.state).toBe('active')
    // The owner refreshes as before.
    await expect(client.getToken({ audience: verified.url })).resolves.toMatch(/\./)
    client.dispose()
  })

  it('the authorization request names dpop_jkt (RFC 9449 10): the code is refused with a proof of another key or without one, burns nothing, and is redeemed with the right key', async () => {
    const { client, store, storage } = dpopClient()
    const url = await client.signIn()
    expect(store.pairs.size).toBe(1)
    const jkt = await thumbprintOf([...store.pairs.values()][0]!)
    expect(url.searchParams.get('dpop_jkt')).toBe(jkt)
    const callback = await followSignIn(s.t, url)
    const form = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: WEB_REDIRECT,
      client_id: 'web-app',
      code_verifier: JSON.parse((await storage.get('tessera.web-app.transactions'))!)[
        url.searchParams.get('state')!
      ].codeVerifier,
    }
    // The thief has the code and even the PKCE verifier: without the key, the exchange is refused.
    const thief = await dpopKey('ES256')
    const otherKey = await postForm(`${s.t.url}/oauth/token`, form, {
      dpop: tokenProof(s.t, thief),
    })
    expect(otherKey.status).toBe(400)
    expect(otherKey.body).toEqual({
      error: 'invalid_grant',
      error_description: 'the DPoP proof key does not match dpop_jkt of the authorization request',
    })
    const noProof = await postForm(`${s.t.url}/oauth/token`, form)
    expect(noProof.status).toBe(400)
    expect(noProof.body.error).toMatch(/^invalid_(grant|dpop_proof)$/)
    // The owner, with the key, redeems the same code: the refusals consumed nothing.
    await client.handleRedirectCallback(callback)
    const token = await client.getToken({ audience: verified.url })
    expect(decodeJwt(token).cnf).toEqual({ jkt })
    client.dispose()
  })

  it('without DPoP the authorization request carries no dpop_jkt', async () => {
    const { client } = clientFor(s)
    expect((await client.signIn()).searchParams.has('dpop_jkt')).toBe(false)
    client.dispose()
  })

  it('sign-out discards the key; the next sign-in makes a new one', async () => {
    const { client, store } = dpopClient()
    await signIn(s, client)
    const first = await thumbprintOf([...store.pairs.values()][0]!)
    await client.signOut()
    expect(store.pairs.size).toBe(0)
    await signIn(s, client)
    expect(store.pairs.size).toBe(1)
    const second = await thumbprintOf([...store.pairs.values()][0]!)
    expect(second).not.toBe(first)
    const token = await client.getToken({ audience: verified.url })
    expect(decodeJwt(token).cnf).toEqual({ jkt: second })
    client.dispose()
  })

  it('an injected signer (keys of the platform, here node:crypto, and a crypto provider as on React Native) makes proofs the server and the API accept', async () => {
    const made: string[] = []
    const discarded: string[] = []
    const pairs = new Map<string, KeyObject>()
    const keys: DpopKeys = {
      key(id) {
        let priv = pairs.get(id)
        if (!priv) {
          made.push(id)
          priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
          pairs.set(id, priv)
        }
        const key = priv
        const { kty, crv, x, y } = createPublicKey(key).export({ format: 'jwk' })
        return Promise.resolve({
          alg: 'ES256',
          jwk: { kty, crv, x, y },
          sign: (data) => Promise.resolve(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })),
        })
      },
      discard(id) {
        discarded.push(id)
        pairs.delete(id)
        return Promise.resolve()
      },
    }
    const { client } = clientFor(s, {
      apis: [{ baseUrl: verified.url, audience: verified.url, scope: 'orders' }],
      dpop: dpopSigner(keys, { crypto: webCrypto() }),
    })
    await signIn(s, client)
    const res = await client.fetch(`${verified.url}/orders`)
    expect(res.status).toBe(200)
    const jwk = createPublicKey(pairs.get(`${s.t.url} web-app`)!).export({ format: 'jwk' })
    expect((await res.json()).jkt).toBe(await calculateJwkThumbprint(jwk as JWK))
    expect(made).toEqual([`${s.t.url} web-app`])
    await client.signOut()
    expect(discarded).toEqual([`${s.t.url} web-app`])
    client.dispose()
  })

  it('without the dpop option the client is refused by the server (the tokens are not bearer tokens by accident)', async () => {
    const { client } = clientFor(s, {
      apis: [{ baseUrl: verified.url, audience: verified.url }],
    })
    await expect(signIn(s, client)).rejects.toMatchObject({
      code: 'request_rejected',
      oauthError: 'invalid_dpop_proof',
    })
    client.dispose()
  })
})

describe('DPoP nonces (server with dpop.requireNonce)', () => {
  let s: Tessera
  const verified = new VerifiedApi()

  beforeAll(async () => {
    s = await startTessera({
      client: { dpop: 'required' },
      config: { dpop: { requireNonce: true } },
      verifiedApi: verified,
    })
  })
  afterAll(async () => {
    await s.close()
  })

  it('use_dpop_nonce at the token endpoint makes exactly one extra request; the nonce is remembered for the refresh', async () => {
    const counting = new ProofLog()
    const dpop = dpopSigner(webCryptoDpopKeys())
    const { client } = clientFor(s, { counting, dpop })
    await signIn(s, client)
    const codeCalls = counting.proofs.filter((p) => p.path === '/oauth/token')
    expect(codeCalls).toHaveLength(2)
    expect(decodeJwt(codeCalls[0]!.dpop!).nonce).toBeUndefined()
    expect(decodeJwt(codeCalls[1]!.dpop!).nonce).toEqual(expect.any(String))
    await client.getToken({ audience: s.api.url })
    const all = counting.proofs.filter((p) => p.path === '/oauth/token')
    expect(all).toHaveLength(3)
    expect(decodeJwt(all[2]!.dpop!).nonce).toBe(decodeJwt(codeCalls[1]!.dpop!).nonce)
    client.dispose()
  })

  it('a 401 use_dpop_nonce challenge of an API is answered with exactly one retry; its nonce is remembered per origin', async () => {
    const counting = new ProofLog()
    const dpop = dpopSigner(webCryptoDpopKeys())
    const { client } = clientFor(s, {
      counting,
      dpop,
      apis: [{ baseUrl: verified.url, audience: verified.url, scope: 'orders' }],
    })
    await signIn(s, client)
    verified.nonce = 'api-nonce-1'
    const calls = () => counting.proofs.filter((p) => p.path === '/orders')
    expect((await client.fetch(`${verified.url}/orders`)).status).toBe(200)
    expect(calls().map((c) => decodeJwt(c.dpop!).nonce)).toEqual([undefined, 'api-nonce-1'])
    // Remembered: the next request carries it at once.
    expect((await client.fetch(`${verified.url}/orders`)).status).toBe(200)
    expect(calls()).toHaveLength(3)
    // A new nonce: again exactly one retry.
    verified.nonce = 'api-nonce-2'
    expect((await client.fetch(`${verified.url}/orders`)).status).toBe(200)
    expect(calls().map((c) => decodeJwt(c.dpop!).nonce)).toEqual([
      undefined,
      'api-nonce-1',
      'api-nonce-1',
      'api-nonce-1', // refused: the API moved on
      'api-nonce-2',
    ])
    client.dispose()
  })
})
