/**
 * Sign-in rules with fake time and an in-process provider: the callback checks of SDK-03 as a
 * table (each row names the forged part and the exact error), PKCE generation (SDK-04) and the
 * metadata issuer check (SDK-07).
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type TesseraClientOptions,
} from '../../src/index.js'
import { ManualClock } from '../helpers/clocks.js'
import { CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'

async function setup(o: Partial<TesseraClientOptions> = {}) {
  const clock = new ManualClock()
  const provider = await new FakeProvider(() => clock.now()).init()
  const storage = memoryStorage()
  const client = createTesseraClient({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT,
    storage,
    fetch: provider.fetch,
    clock,
    ...o,
  })
  return { clock, provider, client, storage }
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

type Ctx = Awaited<ReturnType<typeof setup>>

const forged: {
  name: string
  arrange?: (c: Ctx) => void
  callback?: (cb: URL) => void
  code: string
  message: string
}[] = [
  {
    name: 'missing state',
    callback: (cb) => cb.searchParams.delete('state'),
    code: 'state_mismatch',
    message: 'the callback has no state',
  },
  {
    name: 'wrong state',
    callback: (cb) => cb.searchParams.set('state', 'x'.repeat(43)),
    code: 'state_mismatch',
    message: 'the callback state matches no sign-in of this client',
  },
  {
    name: 'wrong iss',
    callback: (cb) => cb.searchParams.set('iss', 'https://evil.example.test'),
    code: 'iss_mismatch',
    message:
      'the callback iss is "https://evil.example.test", but the configured issuer is "https://auth.example.test"; configure the issuer exactly as the server states it (RFC 9207)',
  },
  {
    name: 'missing iss while the server advertises it',
    callback: (cb) => cb.searchParams.delete('iss'),
    code: 'iss_mismatch',
    message: 'the callback has no iss, though the server sends it (RFC 9207)',
  },
  {
    name: 'bad nonce',
    arrange: (c) => (c.provider.idTokenOverrides = { nonce: 'another-nonce' }),
    code: 'id_token_invalid',
    message: 'the ID token nonce does not match the request',
  },
  {
    name: 'missing nonce',
    arrange: (c) => (c.provider.idTokenOverrides = { nonce: undefined }),
    code: 'id_token_invalid',
    message: 'the ID token nonce does not match the request',
  },
  {
    name: 'wrong aud',
    arrange: (c) => (c.provider.idTokenOverrides = { aud: 'another-client' }),
    code: 'id_token_invalid',
    message: 'the ID token aud does not include this client',
  },
  {
    name: 'several audiences without azp',
    arrange: (c) => (c.provider.idTokenOverrides = { aud: [CLIENT_ID, 'another-client'] }),
    code: 'id_token_invalid',
    message: 'the ID token has several audiences and no azp',
  },
  {
    name: 'azp of another client',
    arrange: (c) => (c.provider.idTokenOverrides = { azp: 'another-client' }),
    code: 'id_token_invalid',
    message: 'the ID token azp is not this client',
  },
  {
    name: 'signature by another key',
    arrange: (c) => (c.provider.idTokenKey = 'other'),
    code: 'id_token_invalid',
    message: 'the ID token signature does not verify',
  },
  {
    name: 'alg none',
    arrange: (c) => (c.provider.idTokenUnsigned = true),
    code: 'id_token_invalid',
    message: 'the ID token is signed with an algorithm that is not allowed',
  },
  {
    name: 'typ at+jwt (an access token offered as ID token)',
    arrange: (c) => (c.provider.idTokenHeader = { typ: 'at+jwt' }),
    code: 'id_token_invalid',
    message: 'the ID token has the wrong typ',
  },
  {
    name: 'wrong iss in the ID token',
    arrange: (c) => (c.provider.idTokenOverrides = { iss: 'https://evil.example.test' }),
    code: 'id_token_invalid',
    message: 'the ID token iss is not the issuer',
  },
  {
    name: 'missing iat',
    arrange: (c) => (c.provider.idTokenOverrides = { iat: undefined }),
    code: 'id_token_invalid',
    message: 'the ID token has no iat',
  },
  {
    name: 'iat 61 s in the future (tolerance 60 s)',
    arrange: (c) => (c.provider.idTokenOverrides = { iat: Math.floor(c.clock.now() / 1000) + 61 }),
    code: 'id_token_invalid',
    message: 'the ID token iat is in the future',
  },
  {
    name: 'missing sub',
    arrange: (c) => (c.provider.idTokenOverrides = { sub: undefined }),
    code: 'id_token_invalid',
    message: 'the ID token has no sub',
  },
  {
    name: 'exp == now - tolerance',
    arrange: (c) => (c.provider.idTokenOverrides = { exp: Math.floor(c.clock.now() / 1000) - 60 }),
    code: 'id_token_invalid',
    message: 'the ID token has expired',
  },
  {
    name: 'exp in milliseconds',
    arrange: (c) => (c.provider.idTokenOverrides = { exp: c.clock.now() + 3_600_000 }),
    code: 'id_token_invalid',
    message: 'the ID token exp is implausibly far ahead',
  },
]

describe('SDK-03 forged callbacks are rejected', () => {
  for (const row of forged) {
    it(`SDK-03 ${row.name}: ${row.code}`, async () => {
      const c = await setup()
      row.arrange?.(c)
      const cb = c.provider.authorize(await c.client.signIn())
      row.callback?.(cb)
      const err = await rejection(c.client.handleRedirectCallback(cb))
      expect(err.code).toBe(row.code)
      expect(err.message).toBe(row.message)
      expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-out', isSignedIn: false })
      expect(c.client.getSnapshot().error?.code).toBe(row.code)
      expect(await c.storage.get(`tessera.${CLIENT_ID}.session`)).toBeNull()
      await expect(c.client.getToken()).rejects.toMatchObject({ code: 'login_required' })
    })
  }

  it('SDK-03 boundaries that pass: iat 59 s ahead, exp 59 s ago (tolerance 60 s)', async () => {
    const c = await setup()
    const now = Math.floor(c.clock.now() / 1000)
    c.provider.idTokenOverrides = { iat: now + 59, exp: now - 59 }
    const r = await c.client.handleRedirectCallback(c.provider.authorize(await c.client.signIn()))
    expect(r.user?.sub).toBe('user-1')
    expect(c.client.getSnapshot().status).toBe('signed-in')
  })

  it('SDK-03 a state is accepted once: the same callback again is state_mismatch and makes no token request', async () => {
    const c = await setup()
    const cb = c.provider.authorize(await c.client.signIn())
    await c.client.handleRedirectCallback(cb)
    const n = c.provider.calls.filter((x) => x.path === '/token').length
    expect((await rejection(c.client.handleRedirectCallback(cb))).code).toBe('state_mismatch')
    expect(c.provider.calls.filter((x) => x.path === '/token').length).toBe(n)
  })

  it('an error response (access_denied) is authorization_failed; login_required keeps its code', async () => {
    const c = await setup()
    for (const [error, code] of [
      ['access_denied', 'authorization_failed'],
      ['login_required', 'login_required'],
    ]) {
      const url = await c.client.signIn()
      const cb = new URL(REDIRECT)
      cb.searchParams.set('error', error!)
      cb.searchParams.set('state', url.searchParams.get('state')!)
      cb.searchParams.set('iss', ISSUER)
      const err = await rejection(c.client.handleRedirectCallback(cb))
      expect(err.code).toBe(code)
      expect(err.oauthError).toBe(error)
    }
  })
})

describe('SDK-04 PKCE generation', () => {
  it('SDK-04 S256 over 32 random bytes: a 43-character verifier, fresh per attempt, also after an error', async () => {
    const c = await setup()
    const verifiers = new Set<string>()
    const challenges = new Set<string>()
    for (let i = 0; i < 5; i++) {
      const url = await c.client.signIn()
      const txs = JSON.parse((await c.storage.get(`tessera.${CLIENT_ID}.transactions`))!)
      const tx = txs[url.searchParams.get('state')!]
      expect(tx.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(Buffer.from(tx.codeVerifier, 'base64url')).toHaveLength(32)
      expect(url.searchParams.get('code_challenge_method')).toBe('S256')
      expect(url.searchParams.get('code_challenge')).toBe(
        createHash('sha256').update(tx.codeVerifier).digest('base64url'),
      )
      verifiers.add(tx.codeVerifier)
      challenges.add(url.searchParams.get('code_challenge')!)
      if (i === 2) {
        // A failed attempt: the next one still gets a new pair.
        const cb = c.provider.authorize(url)
        cb.searchParams.set('iss', 'https://evil.example.test')
        await rejection(c.client.handleRedirectCallback(cb))
      }
    }
    expect(verifiers.size).toBe(5)
    expect(challenges.size).toBe(5)
  })

  it('protocol parameters cannot be overridden through extraParams', async () => {
    const c = await setup()
    const url = await c.client.signIn({
      extraParams: { code_challenge_method: 'plain', ui_locales: 'de', state: 'mine' },
    })
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('state')).not.toBe('mine')
    expect(url.searchParams.get('ui_locales')).toBe('de')
  })
})

describe('session snapshot fields', () => {
  it('currentTask is the ID token’s tessera_task claim when it is a string, else null', async () => {
    const c = await setup()
    c.provider.idTokenOverrides = { tessera_task: 'accept_terms' }
    await c.client.handleRedirectCallback(c.provider.authorize(await c.client.signIn()))
    expect(c.client.getSnapshot().currentTask).toBe('accept_terms')
    const d = await setup()
    d.provider.idTokenOverrides = { tessera_task: 42 }
    await d.client.handleRedirectCallback(d.provider.authorize(await d.client.signIn()))
    expect(d.client.getSnapshot().currentTask).toBeNull()
    await c.client.signOut()
    expect(c.client.getSnapshot()).toMatchObject({
      currentTask: null,
      expireAt: null,
      abandonAt: null,
      lastActiveAt: null,
      sessionExpiresAt: null,
    })
  })
})

describe('SDK-07 metadata issuer', () => {
  it('SDK-07 discovery whose issuer differs from the configured one aborts (iss_mismatch), and so does injected metadata', async () => {
    const c = await setup({ issuer: 'https://auth.example.test/tenant' })
    // The provider answers any discovery with issuer https://auth.example.test.
    const err = await rejection(c.client.signIn())
    expect(err.code).toBe('iss_mismatch')
    const p = await new FakeProvider(() => 0).init()
    expect(() =>
      createTesseraClient({
        issuer: 'https://auth.example.test/other',
        clientId: CLIENT_ID,
        redirectUri: REDIRECT,
        metadata: p.metadata() as never,
      }),
    ).toThrow(
      'the metadata issuer is "https://auth.example.test", but the configured issuer is "https://auth.example.test/other"; configure the issuer exactly as the server states it (RFC 8414 section 3.3)',
    )
  })

  it('configuration is validated when the client is built', () => {
    const base = { issuer: ISSUER, clientId: CLIENT_ID, redirectUri: REDIRECT }
    const cases: [Partial<TesseraClientOptions>, RegExp][] = [
      [{ issuer: 'http://auth.example.test' }, /issuer: must use https/],
      [{ clientId: '' }, /clientId/],
      [{ redirectUri: 'callback' }, /redirectUri: must be an absolute URL/],
      [{ apis: [{ baseUrl: 'https://api.example.test?x=1', audience: 'a' }] }, /no query/],
      [{ skewSeconds: -1 }, /skewSeconds/],
      [
        { refreshTokenDelivery: 'header' as never },
        /^invalid option refreshTokenDelivery: must be 'body' or 'cookie'$/,
      ],
    ]
    for (const [o, re] of cases) {
      let err: unknown
      try {
        createTesseraClient({ ...base, ...o })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(TesseraClientError)
      expect((err as TesseraClientError).code).toBe('configuration')
      expect((err as Error).message).toMatch(re)
    }
  })
})
