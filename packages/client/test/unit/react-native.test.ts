/**
 * React Native readiness with stand-ins for what Hermes lacks or does differently: the built-in
 * `URL` (href only), no `URL` at all, Web Crypto installed after the client is built, and
 * `crypto.getRandomValues` missing or half-polyfilled (APP-14).
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  webCrypto,
  type CryptoProvider,
  type TesseraClientOptions,
} from '../../src/index.js'
import { ManualClock } from '../helpers/clocks.js'
import { CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'
import { RNURL, RNURLSearchParams } from '../helpers/react-native-url.js'

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

const options = (o: Partial<TesseraClientOptions> = {}): TesseraClientOptions => ({
  issuer: ISSUER,
  clientId: CLIENT_ID,
  redirectUri: REDIRECT,
  ...o,
})

function thrown(fn: () => unknown): TesseraClientError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraClientError)
    return err as TesseraClientError
  }
  throw new Error('expected a throw')
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

describe('the React Native URL stand-in behaves like RN’s built-in URL', () => {
  it('href works (with RN’s trailing slash); protocol, pathname, origin, hostname, search and hash throw', () => {
    const u = new RNURL('https://auth.example.test/authorize')
    expect(u.href).toBe('https://auth.example.test/authorize/')
    for (const k of ['protocol', 'pathname', 'origin', 'hostname', 'search', 'hash'] as const) {
      expect(() => u[k]).toThrow(`URL.${k} is not implemented`)
    }
    u.searchParams.append('a', 'b c')
    expect(u.toString()).toBe('https://auth.example.test/authorize/?a=b%20c')
  })

  it('URLSearchParams appends and serialises; get and set throw; a string argument is ignored', () => {
    const p = new RNURLSearchParams({ grant_type: 'refresh_token' })
    p.append('x', '1')
    expect(p.toString()).toBe('grant_type=refresh_token&x=1')
    expect(() => p.get()).toThrow('URLSearchParams.get is not implemented')
    expect(() => p.set()).toThrow('URLSearchParams.set is not implemented')
    expect(new RNURLSearchParams('a=1').toString()).toBe('')
  })
})

describe('URL on React Native', () => {
  const incomplete =
    "this platform's URL is incomplete (React Native's built-in URL implements only href): install react-native-url-polyfill and import 'react-native-url-polyfill/auto' before creating the client"

  it('React Native’s built-in URL: createTesseraClient fails with a configuration error naming react-native-url-polyfill, not a raw Error', () => {
    vi.stubGlobal('URL', RNURL)
    vi.stubGlobal('URLSearchParams', RNURLSearchParams)
    const err = thrown(() => createTesseraClient(options()))
    expect(err.code).toBe('configuration')
    expect(err.message).toBe(incomplete)
  })

  it('a whole URL with React Native’s URLSearchParams is refused the same way', () => {
    vi.stubGlobal('URLSearchParams', RNURLSearchParams)
    expect(thrown(() => createTesseraClient(options())).message).toBe(incomplete)
  })

  it('no URL at all: the error says URL is missing (not "issuer must be an absolute URL")', () => {
    vi.stubGlobal('URL', undefined)
    const err = thrown(() => createTesseraClient(options()))
    expect(err.code).toBe('configuration')
    expect(err.message).toBe(
      "no URL on this platform: install react-native-url-polyfill and import 'react-native-url-polyfill/auto' before creating the client (React Native), or provide a WHATWG URL",
    )
  })

  it('no fetch at all: the error says fetch is missing', () => {
    vi.stubGlobal('fetch', undefined)
    expect(thrown(() => createTesseraClient(options())).message).toBe(
      'no fetch on this platform: pass `fetch`',
    )
  })
})

describe('Web Crypto is taken when first needed', () => {
  it('a client built before any crypto provider exists renders signed-out; signIn names what is missing; once crypto is installed, sign-in works', async () => {
    const clock = new ManualClock()
    const provider = await new FakeProvider(() => clock.now()).init()
    const navigated: string[] = []
    vi.stubGlobal('crypto', undefined)
    const client = createTesseraClient(
      options({ fetch: provider.fetch, clock, navigate: (u) => navigated.push(u) }),
    )
    expect((await client.whenLoaded()).status).toBe('signed-out')
    const err = await rejection(client.signIn())
    expect(err.code).toBe('configuration')
    expect(err.message).toBe(
      'no Web Crypto API on this platform (globalThis.crypto is missing): pass `crypto` (a CryptoProvider) to createTesseraClient',
    )
    expect(navigated).toEqual([])
    expect(provider.calls).toEqual([])
    vi.unstubAllGlobals() // the app's crypto provider is ready now
    const url = await client.signIn()
    expect(navigated).toEqual([url.href])
    await client.handleRedirectCallback(provider.authorize(url))
    expect(client.getSnapshot().status).toBe('signed-in')
  })
})

describe('APP-14 crypto.getRandomValues missing or half-polyfilled', () => {
  const hint =
    'on React Native install react-native-get-random-values and import it first, or pass `crypto` (a CryptoProvider) to createTesseraClient'

  async function attempt(crypto: CryptoProvider | undefined, globalCrypto?: unknown) {
    const clock = new ManualClock()
    const provider = await new FakeProvider(() => clock.now()).init()
    if (globalCrypto !== undefined) vi.stubGlobal('crypto', globalCrypto)
    const storage = memoryStorage()
    const navigated: string[] = []
    const client = createTesseraClient(
      options({
        fetch: provider.fetch,
        clock,
        storage,
        random: () => 0.5,
        navigate: (u) => navigated.push(u),
        ...(crypto ? { crypto } : {}),
      }),
    )
    await client.whenLoaded()
    const mathRandom = vi.spyOn(Math, 'random')
    const err = await rejection(client.signIn())
    // Nothing was stored or sent, and Math.random was never asked for a secret.
    expect(mathRandom).not.toHaveBeenCalled()
    expect(await storage.get(`tessera.${CLIENT_ID}.transactions`)).toBeNull()
    expect(navigated).toEqual([])
    expect(provider.calls).toEqual([])
    expect(client.getSnapshot().status).toBe('signed-out')
    return err
  }

  const real = webCrypto()
  const provider = (getRandomValues: (b: Uint8Array) => Uint8Array): CryptoProvider => ({
    getRandomValues,
    sha256: (d) => real.sha256(d),
    verifySignature: (...a) => real.verifySignature(...a),
  })

  it('APP-14 globalThis.crypto without getRandomValues: configuration error at sign-in start', async () => {
    const err = await attempt(undefined, { subtle: globalThis.crypto.subtle })
    expect(err).toMatchObject({
      code: 'configuration',
      message: `crypto.getRandomValues is missing: ${hint}`,
    })
  })

  it('APP-14 getRandomValues only (no subtle, as react-native-get-random-values alone): configuration error', async () => {
    const err = await attempt(undefined, { getRandomValues: (b: Uint8Array) => b })
    expect(err).toMatchObject({
      code: 'configuration',
      message:
        'crypto.subtle is missing (a getRandomValues-only polyfill): pass `crypto` (a CryptoProvider with sha256 and verifySignature) to createTesseraClient',
    })
  })

  it('APP-14 a getRandomValues that returns the buffer untouched (uninitialised): refused, never used', async () => {
    const err = await attempt(provider((b) => b))
    expect(err).toMatchObject({
      code: 'configuration',
      message: `crypto.getRandomValues returned no random bytes (an incomplete polyfill?): ${hint}`,
    })
  })

  it('APP-14 a getRandomValues that returns nothing: refused', async () => {
    const err = await attempt(provider(() => undefined as unknown as Uint8Array))
    expect(err.message).toBe(
      `crypto.getRandomValues returned no random bytes (an incomplete polyfill?): ${hint}`,
    )
  })

  it('APP-14 a getRandomValues that throws (a stub of a native module that is not linked): configuration error with the cause', async () => {
    const cause = new Error('Native module RNGetRandomValues not found')
    const err = await attempt(
      provider(() => {
        throw cause
      }),
    )
    expect(err).toMatchObject({
      code: 'configuration',
      message: `crypto.getRandomValues failed: ${hint}`,
    })
    expect(err.cause).toBe(cause)
  })

  it('APP-14 a CryptoProvider without getRandomValues: configuration error', async () => {
    const err = await attempt({
      sha256: (d) => real.sha256(d),
      verifySignature: (...a) => real.verifySignature(...a),
    } as CryptoProvider)
    expect(err.message).toBe(`crypto.getRandomValues is missing: ${hint}`)
  })
})
