/**
 * DPoP (RFC 9449) on React Native against a real Tessera server (in a child process), with Web
 * Crypto absent as on Hermes: `nativeDpop` signs with @noble/curves and keeps the private key in
 * the secure store (the expo-secure-store stand-in), so a relaunched app keeps its key and
 * refreshes its DPoP-bound session; without the key the stored refresh token is worthless.
 */
import { createHash } from 'node:crypto'
import { createTesseraClient } from '@tessera/client'
import { CountingFetch } from '../../client/test/helpers/counting-fetch.js'
import {
  hermesCrypto,
  nativeDpop,
  nativeDpopKeys,
  secureStoreStorage,
  signInWithBrowser,
  TesseraNativeError,
} from '../src/index.js'
import { fakeExpoCrypto, startTesseraProcess, type TesseraProcess } from './helpers/tessera.js'
import { FakeSecureStore } from './stand-ins/secure-store.js'

const REDIRECT = 'com.example.app:/callback'
let server: TesseraProcess

beforeAll(async () => {
  server = await startTesseraProcess()
}, 60_000)
afterAll(async () => {
  await server.close()
})

const crypto = hermesCrypto(fakeExpoCrypto)

/** One launch of the app on `device`: the session and the DPoP key in its secure store. */
function launch(device: FakeSecureStore) {
  const counting = new CountingFetch()
  const client = createTesseraClient({
    issuer: server.issuer,
    clientId: 'native-app',
    redirectUri: REDIRECT,
    apis: [{ baseUrl: server.api, audience: server.api, scope: 'orders' }],
    storage: secureStoreStorage(device),
    crypto,
    fetch: counting.fetch,
    dpop: nativeDpop({
      storage: secureStoreStorage(device, { namespace: 'tessera-dpop' }),
      crypto,
    }),
  })
  return { client, counting }
}

const browser = {
  urls: [] as URL[],
  async openAuthSessionAsync(url: string): Promise<{ type: string; url?: string }> {
    this.urls.push(new URL(url))
    return { type: 'success', url: await server.follow(new URL(url)) }
  },
}

const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, any>

/** The RFC 7638 thumbprint of the public key of the stored DPoP key, as the server computes it. */
async function storedThumbprint(device: FakeSecureStore): Promise<string> {
  const keys = nativeDpopKeys({
    storage: secureStoreStorage(device, { namespace: 'tessera-dpop' }),
    crypto,
  })
  const { kty, crv, x, y } = (await keys.key(`${server.issuer} native-app`)).jwk
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url')
}

async function storedSession(device: FakeSecureStore) {
  const raw = await secureStoreStorage(device).get('tessera.native-app.session')
  return JSON.parse(raw!) as { refreshToken: string }
}

/** The secure-store items of the DPoP key (a record may take several chunks), not the adapter's
 * own index of its records. */
const dpopItems = (device: FakeSecureStore) =>
  [...device.data.keys()].filter((k) => k.includes('tessera-dpop') && !k.includes('_index'))

const sessionId = (rt: string) => /^tsr_([A-Za-z0-9_-]{22})\./.exec(rt)![1]!

describe('nativeDpop: DPoP with the key in secure storage', () => {
  it('signs in with DPoP: the code (dpop_jkt), the access token and the session are bound to the key kept in the secure store', async () => {
    const device = new FakeSecureStore()
    const { client, counting } = launch(device)
    await client.whenLoaded()
    await signInWithBrowser(client, { browser })
    expect(dpopItems(device).length).toBeGreaterThan(0)
    const jkt = await storedThumbprint(device)
    expect(browser.urls.at(-1)!.searchParams.get('dpop_jkt')).toBe(jkt)
    const token = await client.getToken({ audience: server.api })
    expect(claims(token).cnf).toEqual({ jkt })
    expect(counting.tokenCalls.map((c) => c.grantType)).toEqual([
      'authorization_code',
      'refresh_token',
    ])
    const row = await server.session(sessionId((await storedSession(device)).refreshToken))
    expect(row?.dpopJkt).toBe(jkt)
    client.dispose()
  })

  it('a relaunch (new client, same secure store) keeps the key thumbprint and refreshes the bound session', async () => {
    const device = new FakeSecureStore()
    const first = launch(device)
    await first.client.whenLoaded()
    await signInWithBrowser(first.client, { browser })
    const jkt = await storedThumbprint(device)
    first.client.dispose()

    const again = device.relaunch()
    const second = launch(again)
    await second.client.whenLoaded()
    expect(second.client.getSnapshot().status).toBe('signed-in')
    // The API's token was never fetched: the relaunched app refreshes with a proof of the kept key.
    const token = await second.client.getToken({ audience: server.api })
    expect(second.counting.refreshes()).toHaveLength(1)
    expect(claims(token).cnf).toEqual({ jkt })
    expect(await storedThumbprint(again)).toBe(jkt)
    second.client.dispose()
  })

  it('RT-18 the stored refresh token without the key (a copy of the session only) is refused; sign-out deletes the key', async () => {
    const device = new FakeSecureStore()
    const { client } = launch(device)
    await client.whenLoaded()
    await signInWithBrowser(client, { browser })
    const { refreshToken } = await storedSession(device)
    const res = await fetch(`${server.issuer}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: 'native-app',
      }),
    })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'invalid_grant',
      error_description:
        'the refresh token is bound to a DPoP key: send a DPoP proof made with that key',
    })
    await client.signOut()
    expect(dpopItems(device)).toEqual([])
    client.dispose()
  })

  it('an unreadable key record is replaced by a new key; a readable one is kept; discard removes it', async () => {
    const storage = secureStoreStorage(new FakeSecureStore(), { namespace: 'tessera-dpop' })
    const keys = nativeDpopKeys({ storage, crypto })
    await storage.set('dpop x y', '{"v":1,"alg":"ES256","d":"not-a-key"}')
    const made = await keys.key('x y')
    expect(made.jwk).toMatchObject({ kty: 'EC', crv: 'P-256' })
    const stored = JSON.parse((await storage.get('dpop x y'))!)
    expect(stored).toMatchObject({ v: 1, alg: 'ES256', d: expect.stringMatching(/^[\w-]{43}$/) })
    expect((await keys.key('x y')).jwk).toEqual(made.jwk)
    await keys.discard('x y')
    expect(await storage.get('dpop x y')).toBeNull()
  })

  it('refuses to be built without a crypto provider (no Math.random fallback)', () => {
    expect(() =>
      nativeDpopKeys({ storage: secureStoreStorage(new FakeSecureStore()), crypto: undefined! }),
    ).toThrow(TesseraNativeError)
  })
})
