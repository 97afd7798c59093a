/**
 * The client against a real Tessera server on loopback: sign-in through the hosted form,
 * tokens for several audiences from one refresh token, refresh and rotation, a storm of
 * concurrent getToken calls, the 401 replay of `fetch`, lost responses (SDK-02) and sign-out.
 * Invariants are checked in the server's store (session generation, grace uses, state).
 */
import { createHash } from 'node:crypto'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postForm } from '../../../server/test/helpers/grants.js'
import {
  memoryStorage,
  TesseraClientError,
  type DiagnosticEvent,
  type Lifecycle,
  type LifecycleEvent,
} from '../../src/index.js'
import { ShiftedClock } from '../helpers/clocks.js'
import { CountingFetch } from '../helpers/counting-fetch.js'
import {
  API_A,
  API_B,
  clientFor,
  sessionIdOf,
  signIn,
  startTessera,
  storedSession,
  type Tessera,
} from '../helpers/tessera.js'

let s: Tessera

beforeAll(async () => {
  s = await startTessera()
})
afterAll(async () => {
  await s.close()
})

async function sessionRow(refreshToken: string) {
  const row = await s.t.store.getSession(sessionIdOf(refreshToken))
  if (!row) throw new Error('no session row')
  return row
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

describe('sign-in against Tessera', () => {
  it('SDK-04 signIn sends PKCE S256 with a fresh 43-character verifier, state, nonce and every API as resource', async () => {
    const { client, storage } = clientFor(s)
    const a = await client.signIn()
    const b = await client.signIn()
    const txs = JSON.parse((await storage.get('tessera.web-app.transactions'))!)
    for (const url of [a, b]) {
      const p = url.searchParams
      expect(url.origin + url.pathname).toBe(s.t.url + '/authorize')
      expect(p.get('response_type')).toBe('code')
      expect(p.get('code_challenge_method')).toBe('S256')
      expect(p.getAll('resource')).toEqual([s.api.url, API_A, API_B])
      expect(p.get('scope')).toBe('openid profile email offline_access read orders')
      const tx = txs[p.get('state')!]
      expect(tx.codeVerifier).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(p.get('code_challenge')).toBe(
        createHash('sha256').update(tx.codeVerifier).digest('base64url'),
      )
      expect(p.get('nonce')).toBe(tx.nonce)
      expect(p.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    }
    expect(a.searchParams.get('code_challenge')).not.toBe(b.searchParams.get('code_challenge'))
    expect(a.searchParams.get('state')).not.toBe(b.searchParams.get('state'))
    expect(a.searchParams.get('nonce')).not.toBe(b.searchParams.get('nonce'))
    client.dispose()
  })

  it('the callback of the hosted form signs in: user claims, session id and expiry in the snapshot', async () => {
    const { client, storage } = clientFor(s)
    const states: string[] = []
    client.subscribe(() => states.push(client.getSnapshot().status))
    const result = await client.handleRedirectCallback(
      (
        await import('../../../server/test/interop/hosted-sign-in.js').then(async (m) =>
          m.followAuthorization(s.t, await client.signIn({ returnTo: '/orders' })),
        )
      ).callback,
    )
    expect(result.returnTo).toBe('/orders')
    expect(result.user?.sub).toBe(s.alice.id)
    const snap = client.getSnapshot()
    expect(snap.status).toBe('signed-in')
    expect(snap.isLoaded).toBe(true)
    expect(snap.isSignedIn).toBe(true)
    expect(snap.user?.sub).toBe(s.alice.id)
    expect(snap.user?.preferred_username).toBe('alice')
    const rec = await storedSession(storage)
    expect(snap.sessionId).toBe(sessionIdOf(rec.refreshToken))
    expect(snap.sessionExpiresAt).toBeGreaterThan(Date.now() + 13 * 86_400_000)
    expect(states).toEqual(['signed-out', 'pending', 'signed-in'])
    // The sign-in transaction is single-use: the same callback again is refused.
    expect(await storage.get('tessera.web-app.transactions')).toBeNull()
    client.dispose()
  })

  it('SDK-03 a replayed callback (state already used) is refused with state_mismatch and no token request', async () => {
    const counting = new CountingFetch()
    const { client } = clientFor(s, { counting })
    const { followAuthorization } = await import('../../../server/test/interop/hosted-sign-in.js')
    const { callback } = await followAuthorization(s.t, await client.signIn())
    await client.handleRedirectCallback(callback)
    const calls = counting.tokenCalls.length
    const err = await rejection(client.handleRedirectCallback(callback))
    expect(err.code).toBe('state_mismatch')
    expect(counting.tokenCalls.length).toBe(calls)
    client.dispose()
  })

  it('SDK-03 a callback whose iss is another issuer is refused before the code is redeemed', async () => {
    const counting = new CountingFetch()
    const { client } = clientFor(s, { counting })
    const { followAuthorization } = await import('../../../server/test/interop/hosted-sign-in.js')
    const { callback } = await followAuthorization(s.t, await client.signIn())
    callback.searchParams.set('iss', 'https://evil.example.test')
    const err = await rejection(client.handleRedirectCallback(callback))
    expect(err.code).toBe('iss_mismatch')
    expect(counting.tokenCalls).toHaveLength(0)
    expect(client.getSnapshot().status).toBe('signed-out')
    client.dispose()
  })

  it('SDK-07 metadata whose issuer is not the configured issuer aborts the sign-in', async () => {
    const { client } = clientFor(s, { issuer: s.t.url.replace('127.0.0.1', 'localhost') })
    const err = await rejection(client.signIn())
    expect(err.code).toBe('iss_mismatch')
    expect(err.message).toBe(
      `the metadata issuer is "${s.t.url}", but the configured issuer is "${s.t.url.replace('127.0.0.1', 'localhost')}"; configure the issuer exactly as the server states it (RFC 8414 section 3.3)`,
    )
    client.dispose()
  })

  it('SDK-07 an issuer configured with a trailing slash is iss_mismatch naming both issuers and the slash', async () => {
    const { client } = clientFor(s, { issuer: s.t.url + '/' })
    const err = await rejection(client.signIn())
    expect(err.code).toBe('iss_mismatch')
    expect(err.message).toBe(
      `the metadata issuer is "${s.t.url}", but the configured issuer is "${s.t.url}/": they differ only by a trailing slash; configure the issuer exactly as the server states it (RFC 8414 section 3.3)`,
    )
    client.dispose()
  })

  it('discovery answering 404 (a typo in the issuer path) is a configuration error naming the URL, not a transient one retried as offline', async () => {
    const counting = new CountingFetch()
    const storage = memoryStorage()
    const good = clientFor(s, { storage, autoRefresh: false })
    await signIn(s, good.client)
    good.client.dispose()
    const events: DiagnosticEvent[] = []
    const { client } = clientFor(s, {
      issuer: s.t.url + '/tenant',
      storage,
      counting,
      autoRefresh: false,
      onDiagnostic: (e) => events.push(e),
    })
    const url = `${s.t.url}/tenant/.well-known/openid-configuration`
    const message = `discovery: ${url} answered 404; check the issuer option (the metadata must be served at {issuer}/.well-known/openid-configuration)`
    const err = await rejection(client.signIn())
    expect(err).toMatchObject({ code: 'configuration', status: 404, message })
    expect(err.transient).toBe(false)
    // The stored session needs a refresh: that discovery fails the same way, and the session
    // is neither offline nor scheduled for a retry.
    const again = await rejection(client.getToken({ audience: API_A }))
    expect(again).toMatchObject({ code: 'configuration', message })
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', isSignedIn: true })
    expect(events.filter((e) => e.type === 'retry_scheduled')).toEqual([])
    expect(counting.tokenCalls).toHaveLength(0)
    expect(counting.urls.filter((u) => u.endsWith('openid-configuration'))).toHaveLength(2)
    client.dispose()
  })
})

describe('tokens for several audiences from one refresh token', () => {
  it('getToken gives each API a token with exactly its audience, all from one session; the refresh token rotates each time', async () => {
    const { client, counting, storage } = clientFor(s)
    await signIn(s, client)
    const first = await storedSession(storage)
    const issuerToken = await client.getToken()
    expect(decodeJwt(issuerToken).aud).toBe(s.t.url)
    expect(counting.refreshes()).toHaveLength(0)

    const a = await client.getToken({ audience: API_A })
    const b = await client.getToken({ audience: API_B })
    const own = await client.getToken({ audience: s.api.url })
    expect(decodeJwt(a)).toMatchObject({ aud: API_A, scope: 'read', sub: s.alice.id })
    expect(decodeJwt(b)).toMatchObject({ aud: API_B, scope: 'orders', sub: s.alice.id })
    expect(decodeJwt(own)).toMatchObject({ aud: s.api.url, sub: s.alice.id })
    const sids = new Set([a, b, own].map((tok) => decodeJwt(tok).sid))
    expect(sids).toEqual(new Set([first.sessionId]))
    expect(counting.refreshes().map((c) => c.resource)).toEqual([[API_A], [API_B], [s.api.url]])
    // Each refresh presented the token the previous one returned: one chain, no grace use.
    const presented = counting.refreshes().map((c) => c.refreshToken)
    expect(new Set(presented).size).toBe(3)
    expect(presented[0]).toBe(first.refreshToken)
    const row = await sessionRow(first.refreshToken)
    expect(row.generation).toBe(3)
    expect(row.graceUses).toBe(0)
    expect(row.state).toBe('active')

    // Cached now: no more requests.
    expect(await client.getToken({ audience: API_A })).toBe(a)
    expect(await client.getToken({ audience: API_B })).toBe(b)
    expect(counting.refreshes()).toHaveLength(3)
    client.dispose()
  })
})

describe('refresh', () => {
  it('an access token is refreshed on read once it is stale (expiry checked with skew, on the server clock)', async () => {
    const clock = new ShiftedClock()
    const { client, counting, storage } = clientFor(s, { clock, autoRefresh: false })
    await signIn(s, client)
    const a1 = await client.getToken({ audience: API_B })
    const gen = (await sessionRow((await storedSession(storage)).refreshToken)).generation
    // API B tokens live 300 s; skew 30 s: at +269 s still fresh, at +271 s stale.
    clock.offset = 269_000
    expect(await client.getToken({ audience: API_B })).toBe(a1)
    clock.offset = 271_000
    s.t.clock.advance(271_000)
    const a2 = await client.getToken({ audience: API_B })
    expect(a2).not.toBe(a1)
    expect(counting.refreshes()).toHaveLength(2)
    const rec = await storedSession(storage)
    expect((await sessionRow(rec.refreshToken)).generation).toBe(gen + 1)
    client.dispose()
  })

  it('SDK-01 1,000 concurrent getToken calls on an expired token make exactly one refresh request', async () => {
    const clock = new ShiftedClock()
    const { client, counting, storage } = clientFor(s, { clock, autoRefresh: false })
    await signIn(s, client)
    await client.getToken({ audience: API_A })
    const before = await sessionRow((await storedSession(storage)).refreshToken)
    clock.offset = 16 * 60_000
    s.t.clock.advance(16 * 60_000)
    const n = counting.refreshes().length
    const tokens = await Promise.all(
      Array.from({ length: 1000 }, () => client.getToken({ audience: API_A })),
    )
    expect(counting.refreshes().length - n).toBe(1)
    expect(new Set(tokens).size).toBe(1)
    const after = await sessionRow((await storedSession(storage)).refreshToken)
    expect(after.generation).toBe(before.generation + 1)
    expect(after.graceUses).toBe(0)
    client.dispose()
  })
})

describe('fetch', () => {
  it('attaches the token of the URL’s API, and none to other URLs', async () => {
    const { client } = clientFor(s)
    await signIn(s, client)
    const res = await client.fetch(s.api.url + '/orders', { method: 'POST', body: 'hello' })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ sub: s.alice.id, aud: s.api.url, echo: 'hello' })
    const other = await client.fetch(s.t.url + '/healthz')
    expect(other.status).toBe(200)
    expect(s.api.requests.at(-1)?.authorization).toMatch(/^Bearer /)
    client.dispose()
  })

  it('SDK-01 a 401 invalid_token refreshes once and replays once; 20 concurrent 401s make one refresh', async () => {
    const { client, counting } = clientFor(s)
    await signIn(s, client)
    const token = await client.getToken({ audience: s.api.url })
    s.api.rejected.add(token)
    const n = counting.refreshes().length
    const seen = s.api.requests.length
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client.fetch(s.api.url + '/orders', { method: 'POST', body: `r${i}` }),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200))
    const bodies = await Promise.all(results.map((r) => r.json()))
    expect(bodies.map((b) => b.echo)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`))
    expect(counting.refreshes().length - n).toBe(1)
    // Each request went out at most twice.
    expect(s.api.requests.length - seen).toBe(40)
    client.dispose()
  })

  it('a second 401 is returned as is: one refresh, one replay, no loop', async () => {
    const { client, counting } = clientFor(s)
    await signIn(s, client)
    await client.getToken({ audience: s.api.url })
    s.api.rejectAll = true
    try {
      const n = counting.refreshes().length
      const seen = s.api.requests.length
      const res = await client.fetch(s.api.url + '/orders')
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toContain('invalid_token')
      expect(s.api.requests.length - seen).toBe(2)
      expect(counting.refreshes().length - n).toBe(1)
    } finally {
      s.api.rejectAll = false
    }
    client.dispose()
  })
})

describe('session times in the snapshot (idle 60 min, absolute 120 min)', () => {
  let short: Tessera
  beforeAll(async () => {
    short = await startTessera({
      client: { sessionIdleSeconds: 3600, sessionAbsoluteSeconds: 7200 },
    })
  })
  afterAll(async () => {
    await short.close()
  })

  it('lastActiveAt, abandonAt (= sessionExpiresAt) and expireAt follow the server’s deadlines; expireAt is learned once a deadline stops following activity', async () => {
    const M = 60_000
    const clock = new ShiftedClock()
    const { client } = clientFor(short, { clock, autoRefresh: false })
    const near = (v: number | null, want: number) => {
      expect(v).not.toBeNull()
      expect(Math.abs(v! - want)).toBeLessThanOrEqual(2000)
    }
    const t0 = clock.now()
    await signIn(short, client)
    let snap = client.getSnapshot()
    near(snap.lastActiveAt, t0)
    near(snap.abandonAt, snap.lastActiveAt! + 60 * M)
    expect(snap.sessionExpiresAt).toBe(snap.abandonAt)
    expect(snap.expireAt).toBeNull()
    expect(snap.currentTask).toBeNull()

    const later = async (ms: number) => {
      short.t.clock.advance(ms)
      clock.offset += ms
      await client.getToken({ audience: API_A })
      return client.getSnapshot()
    }
    // 50 min later: the idle end moved with the activity; the absolute end is not known yet.
    snap = await later(50 * M)
    near(snap.lastActiveAt, t0 + 50 * M)
    near(snap.abandonAt, t0 + 110 * M)
    expect(snap.expireAt).toBeNull()
    // 100 min in: the deadline is 20 min away although the idle timeout is 60: the absolute end.
    snap = await later(50 * M)
    near(snap.lastActiveAt, t0 + 100 * M)
    near(snap.abandonAt, t0 + 120 * M)
    near(snap.expireAt, t0 + 120 * M)
    client.dispose()
    short.t.clock.set(Date.now())
  })
})

describe('app scenarios against Tessera', () => {
  it('APP-03 ten concurrent getToken calls for two audiences with expired tokens: one refresh at a time, the second presenting the token the first returned', async () => {
    const clock = new ShiftedClock()
    const counting = new CountingFetch()
    const { client, storage } = clientFor(s, { clock, counting, autoRefresh: false })
    await signIn(s, client)
    const a0 = await client.getToken({ audience: API_A })
    const b0 = await client.getToken({ audience: API_B })
    const rt = (await storedSession(storage)).refreshToken
    const gen = (await sessionRow(rt)).generation
    const n = counting.refreshes().length
    s.t.clock.advance(16 * 60_000)
    clock.offset += 16 * 60_000
    try {
      const audiences = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? API_A : API_B))
      const tokens = await Promise.all(audiences.map((audience) => client.getToken({ audience })))
      const calls = counting.refreshes().slice(n)
      expect(calls.map((c) => c.resource)).toEqual([[API_A], [API_B]])
      expect(calls[0]!.refreshToken).toBe(rt)
      expect(calls[1]!.refreshToken).not.toBe(rt)
      // Never the same token twice: two rotations, no grace replay.
      expect(await sessionRow(rt)).toMatchObject({ generation: gen + 2, graceUses: 0 })
      const forA = new Set(tokens.filter((_, i) => audiences[i] === API_A))
      const forB = new Set(tokens.filter((_, i) => audiences[i] === API_B))
      expect(forA.size).toBe(1)
      expect(forB.size).toBe(1)
      expect(decodeJwt([...forA][0]!).aud).toBe(API_A)
      expect(decodeJwt([...forB][0]!).aud).toBe(API_B)
      expect(forA.has(a0)).toBe(false)
      expect(forB.has(b0)).toBe(false)
    } finally {
      client.dispose()
      s.t.clock.set(Date.now())
    }
  })

  it('APP-06 the network comes back while API calls are parked: one refresh, then every parked call goes out once with the new token', async () => {
    const clock = new ShiftedClock()
    const counting = new CountingFetch()
    let reopen!: () => void
    const networkBack = new Promise<void>((r) => (reopen = r))
    let waiting = 0
    const parked = (input: Request | string | URL, init?: RequestInit) => {
      const req = new Request(input, init)
      if (/\/(oauth\/)?token$/.test(new URL(req.url).pathname) && waiting++ === 0) {
        // The network is down: the refresh request waits until it comes back.
        return networkBack.then(() => counting.fetch(req))
      }
      return counting.fetch(req)
    }
    const misses: string[] = []
    const { client } = clientFor(s, {
      clock,
      counting,
      fetch: parked,
      autoRefresh: false,
      onDiagnostic: (e) => {
        if (e.type === 'cache_miss') misses.push(e.audience)
      },
    })
    waiting = 1 // the sign-in's code exchange goes through
    await signIn(s, client)
    const old = await client.getToken({ audience: s.api.url })
    waiting = 0
    clock.offset += 11 * 60_000 // the API's 600 s token is stale
    s.t.clock.advance(11 * 60_000)
    const before = counting.refreshes().length
    const seen = s.api.requests.length
    misses.length = 0
    try {
      const calls = Array.from({ length: 10 }, (_, i) => client.fetch(`${s.api.url}/orders/${i}`))
      await expect.poll(() => misses.length).toBe(10)
      await expect.poll(() => waiting).toBe(1)
      expect(s.api.requests.length).toBe(seen)
      reopen()
      const responses = await Promise.all(calls)
      expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200))
      expect(counting.refreshes().length - before).toBe(1)
      const sent = s.api.requests.slice(seen).map((r) => r.authorization)
      expect(sent).toHaveLength(10)
      expect(new Set(sent).size).toBe(1)
      expect(sent[0]).not.toBe(`Bearer ${old}`)
    } finally {
      client.dispose()
      s.t.clock.set(Date.now())
    }
  })
})

describe('invalid_target names the audience and where it is missing', () => {
  it('an audience missing from the client’s apis: the message says so and names it; the session is kept', async () => {
    const { client, storage } = clientFor(s, { autoRefresh: false })
    await signIn(s, client)
    const rt0 = (await storedSession(storage)).refreshToken
    const err = await rejection(client.getToken({ audience: 'https://unknown.example.test' }))
    expect(err).toMatchObject({ code: 'request_rejected', oauthError: 'invalid_target' })
    expect(err.message).toBe(
      'the server refused a token for audience "https://unknown.example.test" (invalid_target): it is missing from this client\'s apis; add { baseUrl, audience: "https://unknown.example.test" } to apis',
    )
    expect(client.getSnapshot().status).toBe('signed-in')
    expect((await storedSession(storage)).refreshToken).toBe(rt0)
    client.dispose()
  })

  it('an audience in the client’s apis that the server refuses: the message says the server refused it', async () => {
    const storage = memoryStorage()
    const first = clientFor(s, { storage, autoRefresh: false })
    await signIn(s, first.client)
    first.client.dispose()
    // The app's configuration gained an API the server does not allow for this client.
    const extra = 'https://reports.example.test'
    const { client } = clientFor(s, {
      storage,
      autoRefresh: false,
      apis: [{ baseUrl: extra, audience: extra }],
    })
    const err = await rejection(client.getToken({ audience: extra }))
    expect(err).toMatchObject({ code: 'request_rejected', oauthError: 'invalid_target' })
    expect(err.message).toBe(
      'the server refused a token for audience "https://reports.example.test" (invalid_target): it is in this client\'s apis, but the server does not allow client "web-app" tokens for it; allow the API for the client at the server',
    )
    expect(client.getSnapshot().status).toBe('signed-in')
    client.dispose()
  })
})

describe('lost responses and interrupted refreshes (SDK-02)', () => {
  it('SDK-08 APP-02 a refresh whose response is lost (the server rotated) is retried once with the same token inside the grace window: that very getToken resolves, with exactly one extra request', async () => {
    const counting = new CountingFetch()
    const { client, storage } = clientFor(s, { counting, autoRefresh: false })
    await signIn(s, client)
    const rt0 = (await storedSession(storage)).refreshToken
    let lost = 0
    // The request reaches the server, which answers; the answer is dropped at the transport.
    counting.afterToken = (c) =>
      c.grantType === 'refresh_token' && lost++ === 0 ? 'lose' : undefined
    const token = await client.getToken({ audience: API_A })
    expect(decodeJwt(token).aud).toBe(API_A)
    expect(lost).toBe(2)
    expect(counting.refreshes().map((c) => c.refreshToken)).toEqual([rt0, rt0])
    // The first request rotated; the retry took the grace path and got the current token.
    expect(await sessionRow(rt0)).toMatchObject({ generation: 1, graceUses: 1, state: 'active' })
    const rec = await storedSession(storage)
    expect(rec.refreshStartedAt).toBeNull()
    expect(rec.refreshToken).not.toBe(rt0)
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', error: null })
    // The session lives on: the successor refreshes normally.
    expect(decodeJwt(await client.getToken({ audience: API_B })).aud).toBe(API_B)
    expect(counting.refreshes().map((c) => c.refreshToken)).toEqual([rt0, rt0, rec.refreshToken])
    client.dispose()
  })

  it('SDK-02 a refresh whose response and in-call retry are both lost keeps the session (offline) and the backoff retry converges on the server’s current token', async () => {
    const clock = new ShiftedClock()
    const counting = new CountingFetch()
    const { client, storage } = clientFor(s, {
      clock,
      counting,
      autoRefresh: false,
      backoff: { baseMs: 50, maxMs: 100 },
    })
    await signIn(s, client)
    const rt0 = (await storedSession(storage)).refreshToken
    counting.afterToken = (c) => (c.grantType === 'refresh_token' ? 'lose' : undefined)
    const err = await rejection(client.getToken({ audience: API_A }))
    expect(err.code).toBe('network')
    expect(client.getSnapshot().status).toBe('offline')
    expect(client.getSnapshot().isSignedIn).toBe(true)
    // The server rotated; the client still holds the token it presented, marked in flight.
    const rec = await storedSession(storage)
    expect(rec.refreshToken).toBe(rt0)
    expect(rec.refreshStartedAt).not.toBeNull()
    expect((await sessionRow(rt0)).generation).toBe(1)

    counting.afterToken = undefined
    // The backoff timer retries by itself.
    await expect.poll(() => client.getSnapshot().status, { timeout: 5000 }).toBe('signed-in')
    const row = await sessionRow(rt0)
    expect(row.generation).toBe(1)
    expect(row.graceUses).toBe(2)
    expect(row.state).toBe('active')
    const after = await storedSession(storage)
    expect(after.refreshStartedAt).toBeNull()
    expect(after.refreshToken).not.toBe(rt0)
    // Every request (the lost one, the in-call retry, the backoff retry) presented the same token.
    expect(counting.refreshes().map((c) => c.refreshToken)).toEqual([rt0, rt0, rt0])
    client.dispose()
  })

  it('SDK-02 a client killed mid-refresh: the next start on the same storage retries at once and stays signed in', async () => {
    const storage = memoryStorage()
    const c1 = new CountingFetch()
    const first = clientFor(s, { storage, counting: c1, autoRefresh: false })
    await signIn(s, first.client)
    const rt0 = (await storedSession(storage)).refreshToken
    c1.afterToken = (c) => (c.grantType === 'refresh_token' ? 'hang' : undefined)
    void first.client.getToken({ audience: API_A }).catch(() => {})
    await expect.poll(() => c1.refreshes().length).toBe(1)
    await expect.poll(async () => (await sessionRow(rt0)).generation).toBe(1)
    first.client.dispose() // the process is gone; the response never arrives

    const c2 = new CountingFetch()
    const second = clientFor(s, { storage, counting: c2, autoRefresh: false })
    await second.client.whenLoaded()
    await expect.poll(() => second.client.getSnapshot().status).toBe('signed-in')
    await expect.poll(async () => (await storedSession(storage)).refreshStartedAt).toBeNull()
    expect(c2.refreshes().map((c) => c.refreshToken)).toEqual([rt0])
    const row = await sessionRow(rt0)
    expect(row.generation).toBe(1)
    expect(row.graceUses).toBe(1)
    const tok = await second.client.getToken({ audience: API_A })
    expect(decodeJwt(tok).aud).toBe(API_A)
    expect(c2.refreshes()).toHaveLength(1)
    second.client.dispose()
  })

  it('SDK-02 after the grace window the retry gets invalid_grant: the session is cleared once and the user must sign in, without a loop', async () => {
    const storage = memoryStorage()
    const c1 = new CountingFetch()
    const first = clientFor(s, { storage, counting: c1, autoRefresh: false })
    await signIn(s, first.client)
    const rt0 = (await storedSession(storage)).refreshToken
    c1.afterToken = (c) => (c.grantType === 'refresh_token' ? 'hang' : undefined)
    void first.client.getToken({ audience: API_A }).catch(() => {})
    await expect.poll(async () => (await sessionRow(rt0)).generation).toBe(1)
    first.client.dispose()
    s.t.clock.advance(31_000)

    const c2 = new CountingFetch()
    const second = clientFor(s, { storage, counting: c2 })
    await expect.poll(() => second.client.getSnapshot().status).toBe('signed-out')
    expect(second.client.getSnapshot().reason).toBe('refresh_reused')
    expect(await storedSession(storage)).toBeNull()
    expect((await sessionRow(rt0)).state).toBe('revoked')
    const err = await rejection(second.client.getToken({ audience: API_A }))
    expect(err.code).toBe('login_required')
    expect(c2.refreshes()).toHaveLength(1)
    second.client.dispose()
    s.t.clock.set(Date.now())
  })

  it('a session revoked at the server ends the client session at the next refresh (session_revoked), storage cleared', async () => {
    const { client, storage, counting } = clientFor(s, { autoRefresh: false })
    await signIn(s, client)
    const rt = (await storedSession(storage)).refreshToken
    await s.t.store.endSession(sessionIdOf(rt), 'revoked', 'admin', s.t.clock.now())
    const err = await rejection(client.getToken({ audience: API_A }))
    expect(err.code).toBe('session_revoked')
    expect(err.terminal).toBe(true)
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'session_revoked' })
    expect(await storedSession(storage)).toBeNull()
    const again = await rejection(client.getToken({ audience: API_A }))
    expect(again.code).toBe('login_required')
    expect(counting.refreshes()).toHaveLength(1)
    client.dispose()
  })

  it('a network outage keeps the session offline; the online event resumes at once', async () => {
    const listeners = new Set<(e: LifecycleEvent) => void>()
    const lifecycle: Lifecycle = {
      subscribe(l) {
        listeners.add(l)
        return () => listeners.delete(l)
      },
    }
    const counting = new CountingFetch()
    const { client, storage } = clientFor(s, {
      counting,
      lifecycle,
      autoRefresh: false,
      resumeJitterMs: 0,
      backoff: { baseMs: 60_000, maxMs: 60_000 },
    })
    await signIn(s, client)
    counting.beforeToken = () => new TypeError('fetch failed: ENETUNREACH')
    const err = await rejection(client.getToken({ audience: API_A }))
    expect(err.code).toBe('network')
    expect(err.transient).toBe(true)
    expect(client.getSnapshot()).toMatchObject({ status: 'offline', isSignedIn: true })
    expect(client.getSnapshot().error?.code).toBe('network')
    expect((await storedSession(storage)).refreshToken).toMatch(/^tsr_/)
    // During the backoff, calls fail fast without a request.
    const n = counting.tokenCalls.length
    expect((await rejection(client.getToken({ audience: API_A }))).code).toBe('network')
    expect(counting.tokenCalls.length).toBe(n)

    counting.beforeToken = undefined
    for (const l of listeners) l('online')
    await expect.poll(() => client.getSnapshot().status).toBe('signed-in')
    expect(decodeJwt(await client.getToken({ audience: API_A })).aud).toBe(API_A)
    client.dispose()
  })
})

describe('sign-out', () => {
  it('local first (state, storage, cache clearers), then the refresh token is revoked at the server and the end-session URL returned', async () => {
    const counting = new CountingFetch()
    const { client, storage } = clientFor(s, {
      counting,
      postLogoutRedirectUri: 'https://app.example.test/signed-out',
    })
    await signIn(s, client)
    const rec = await storedSession(storage)
    const order: string[] = []
    client.onSignOut(() => {
      order.push(`clearer:${client.getSnapshot().status}`)
    })
    client.onDiagnostic((e) => {
      if (e.type === 'sign_out') order.push(e.step)
    })
    const { endSessionUrl } = await client.signOut()
    expect(order).toEqual(['local', 'clearer:signed-out', 'storage_cleared', 'revoked'])
    expect(client.getSnapshot()).toMatchObject({
      status: 'signed-out',
      reason: 'sign_out',
      user: null,
    })
    expect(await storedSession(storage)).toBeNull()
    expect(counting.revocations).toEqual(['/oauth/revoke'])
    const row = await sessionRow(rec.refreshToken)
    expect(row.state).toBe('revoked')
    expect(row.reason).toBe('token_revocation')
    const res = await postForm(s.t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: rec.refreshToken,
      client_id: 'web-app',
    })
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('invalid_grant')
    expect(endSessionUrl?.origin + endSessionUrl!.pathname).toBe(s.t.url + '/logout')
    expect(endSessionUrl?.searchParams.get('id_token_hint')).toBe(rec.idToken)
    expect(endSessionUrl?.searchParams.get('client_id')).toBe('web-app')
    expect(endSessionUrl?.searchParams.get('post_logout_redirect_uri')).toBe(
      'https://app.example.test/signed-out',
    )
    expect((await rejection(client.getToken())).code).toBe('login_required')
    client.dispose()
  })
})
