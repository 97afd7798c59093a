/**
 * Timing and failure rules of the token cache with fake time (ManualClock) and an in-process
 * provider: expiry on read with skew, clock drift, warming timers, backoff with jitter and
 * Retry-After, transient versus terminal errors, storage failures, idle timeout, diagnostics.
 */
import { describe, expect, it } from 'vitest'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type DiagnosticEvent,
  type Lifecycle,
  type LifecycleEvent,
  type TesseraClientOptions,
  type TesseraStorage,
} from '../../src/index.js'
import { backoffDelay } from '../../src/lib/backoff.js'
import { ManualClock } from '../helpers/clocks.js'
import { API, CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'

const SESSION_KEY = `tessera.${CLIENT_ID}.session`

async function setup(o: Partial<TesseraClientOptions> & { storage?: TesseraStorage } = {}) {
  const clock = new ManualClock()
  const provider = await new FakeProvider(() => clock.now()).init()
  const storage = o.storage ?? memoryStorage()
  const events: DiagnosticEvent[] = []
  const client = createTesseraClient({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT,
    apis: [{ baseUrl: API, audience: API }],
    fetch: provider.fetch,
    clock,
    random: () => 0.5,
    onDiagnostic: (e) => events.push(e),
    ...o,
    storage,
  })
  const signIn = async () =>
    client.handleRedirectCallback(provider.authorize(await client.signIn()))
  const refreshes = () =>
    provider.calls.filter(
      (c) => c.path === '/token' && c.form.get('grant_type') === 'refresh_token',
    )
  return { clock, provider, client, storage, events, signIn, refreshes }
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

function testLifecycle() {
  const listeners = new Set<(e: LifecycleEvent) => void>()
  let foreground = true
  const lifecycle: Lifecycle = {
    subscribe(l) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    isForeground: () => foreground,
  }
  return {
    lifecycle,
    emit(e: LifecycleEvent) {
      if (e === 'foreground') foreground = true
      if (e === 'background') foreground = false
      for (const l of listeners) l(e)
    },
  }
}

describe('expiry on read, with skew, on the server clock', () => {
  it('a 900 s token is used until 30 s before exp, and refreshed from then (boundary: now + skew == exp)', async () => {
    const c = await setup({ autoRefresh: false })
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    expect(c.refreshes()).toHaveLength(1)
    c.clock.jump(869_999)
    expect(await c.client.getToken({ audience: API })).toBe(t1)
    expect(c.refreshes()).toHaveLength(1)
    c.clock.jump(1)
    const t2 = await c.client.getToken({ audience: API })
    expect(t2).not.toBe(t1)
    expect(c.refreshes()).toHaveLength(2)
  })

  it('the skew is capped at half the lifetime: a 40 s token is used for its first 20 s', async () => {
    const c = await setup({ autoRefresh: false })
    c.provider.accessTokenTtl = 40
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    c.clock.jump(19_999)
    expect(await c.client.getToken({ audience: API })).toBe(t1)
    c.clock.jump(1)
    expect(await c.client.getToken({ audience: API })).not.toBe(t1)
    expect(c.refreshes()).toHaveLength(2)
  })

  it('server clock drift is measured and corrected: a device 10 minutes behind accepts the ID token and keeps tokens their full life', async () => {
    const c = await setup({ autoRefresh: false })
    c.provider.driftMs = 10 * 60_000
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    expect(c.events).toContainEqual({ type: 'clock_offset', offsetMs: expect.closeTo(600_000, -4) })
    c.clock.jump(860_000)
    expect(await c.client.getToken({ audience: API })).toBe(t1)
    c.clock.jump(15_000)
    expect(await c.client.getToken({ audience: API })).not.toBe(t1)
  })

  it('a device 10 minutes ahead of the server neither rejects the ID token nor refreshes in a loop', async () => {
    const c = await setup({ autoRefresh: false })
    c.provider.driftMs = -10 * 60_000
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    for (let i = 0; i < 5; i++) expect(await c.client.getToken({ audience: API })).toBe(t1)
    expect(c.refreshes()).toHaveLength(1)
  })
})

describe('proactive refresh timers only warm the cache', () => {
  it('a token in use is refreshed shortly before it goes stale; an unused one is not', async () => {
    const c = await setup()
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    // random() = 0.5: the timer fires at exp - skew - 15 s = 855 s after issue.
    expect(c.clock.pending()).toContain(855_000)
    await c.clock.advance(855_000)
    await expect.poll(() => c.events.filter((e) => e.type === 'refresh_end' && e.ok).length).toBe(2)
    const t2 = await c.client.getToken({ audience: API })
    expect(t2).not.toBe(t1)
    expect(c.refreshes()).toHaveLength(2)
    // The issuer token (never read since sign-in... read at sign-in time only) is not warmed
    // once unused for a whole lifetime.
    await c.clock.advance(3 * 900_000)
    const issuerRefreshes = c.refreshes().filter((r) => r.form.get('resource') === null)
    expect(issuerRefreshes).toHaveLength(0)
  })

  it('in the background timers do not refresh; getToken still checks expiry itself', async () => {
    const lc = testLifecycle()
    const c = await setup({ lifecycle: lc.lifecycle, resumeJitterMs: 0 })
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    lc.emit('background')
    await c.clock.advance(900_000)
    expect(c.refreshes()).toHaveLength(1)
    const t2 = await c.client.getToken({ audience: API })
    expect(t2).not.toBe(t1)
    expect(c.refreshes()).toHaveLength(2)
  })

  it('resume: coming back to the foreground refreshes a stale token in use, after the jitter', async () => {
    const lc = testLifecycle()
    const c = await setup({ lifecycle: lc.lifecycle, resumeJitterMs: 2000 })
    await c.signIn()
    await c.client.getToken({ audience: API })
    lc.emit('background')
    await c.clock.advance(880_000)
    expect(c.refreshes()).toHaveLength(1)
    lc.emit('foreground')
    await c.clock.advance(999)
    expect(c.refreshes()).toHaveLength(1)
    await c.clock.advance(1)
    await expect.poll(() => c.refreshes().length).toBe(2)
  })
})

describe('transient errors keep the session; terminal ones clear it', () => {
  const transient: [string, () => Response | Error, string][] = [
    ['network failure', () => new TypeError('fetch failed'), 'network'],
    ['500', () => new Response('oops', { status: 500 }), 'server'],
    [
      '503 temporarily_unavailable',
      () =>
        new Response(JSON.stringify({ error: 'temporarily_unavailable' }), {
          status: 503,
          headers: { 'retry-after': '5' },
        }),
      'server',
    ],
    [
      '429',
      () =>
        new Response(JSON.stringify({ error: 'temporarily_unavailable' }), {
          status: 429,
          headers: { 'retry-after': '120' },
        }),
      'rate_limited',
    ],
    ['a 200 that is not a token response', () => new Response('<html>', { status: 200 }), 'server'],
  ]
  for (const [name, answer, code] of transient) {
    it(`${name}: ${code}, session kept, state offline, refresh token still stored`, async () => {
      const c = await setup({ autoRefresh: false })
      await c.signIn()
      // A network failure is retried once in the same call (SDK-08): the network stays down.
      const attempts = code === 'network' ? 2 : 1
      for (let i = 0; i < attempts; i++) c.provider.next.push(answer)
      const err = await rejection(c.client.getToken({ audience: API }))
      expect(c.refreshes()).toHaveLength(attempts)
      expect(err.code).toBe(code)
      expect(err.transient).toBe(true)
      expect(err.terminal).toBe(false)
      expect(c.client.getSnapshot()).toMatchObject({ status: 'offline', isSignedIn: true })
      expect(c.client.getSnapshot().error?.code).toBe(code)
      expect(JSON.parse((await c.storage.get(SESSION_KEY))!).refreshToken).toBe('rt.0')
    })
  }

  it('invalid_grant at refresh is terminal: session_revoked, storage cleared, no automatic sign-in', async () => {
    const c = await setup({ autoRefresh: false })
    const navigated: string[] = []
    await c.signIn()
    c.provider.revokeFamily()
    const err = await rejection(c.client.getToken({ audience: API }))
    expect(err.code).toBe('session_revoked')
    expect(err.terminal).toBe(true)
    expect(c.client.getSnapshot()).toMatchObject({
      status: 'signed-out',
      reason: 'session_revoked',
    })
    expect(await c.storage.get(SESSION_KEY)).toBeNull()
    expect(navigated).toEqual([])
    await c.clock.advance(3_600_000)
    expect(c.refreshes()).toHaveLength(1)
  })

  it('invalid_target keeps the session and the refresh token (request_rejected)', async () => {
    const c = await setup({ autoRefresh: false })
    await c.signIn()
    c.provider.next.push((req) => c.provider.json(400, { error: 'invalid_target' }) ?? req)
    const err = await rejection(c.client.getToken({ audience: API }))
    expect(err.code).toBe('request_rejected')
    expect(err.oauthError).toBe('invalid_target')
    expect(c.client.getSnapshot().status).toBe('signed-in')
    const rec = JSON.parse((await c.storage.get(SESSION_KEY))!)
    expect(rec.refreshToken).toBe('rt.0')
    expect(rec.refreshStartedAt).toBeNull()
  })

  it('a session past its known end is session_expired without a request', async () => {
    const c = await setup({ autoRefresh: false })
    await c.signIn()
    c.clock.jump(14 * 86_400_000)
    const err = await rejection(c.client.getToken({ audience: API }))
    expect(err.code).toBe('session_expired')
    expect(c.client.getSnapshot().reason).toBe('session_expired')
    expect(c.refreshes()).toHaveLength(0)
  })
})

describe('retries: exponential backoff with jitter, Retry-After, resume when online', () => {
  it('backoffDelay grows exponentially with full jitter and a cap', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, () => 0))).toEqual([500, 500, 500, 500, 500])
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 60_000,
    ])
    expect(backoffDelay(2, () => 0.5, { baseMs: 100, maxMs: 300 })).toBe(175)
  })

  it('retries after 750 ms, 1250 ms, 2250 ms (random 0.5), then succeeds and resets', async () => {
    const c = await setup({ autoRefresh: false })
    await c.signIn()
    c.clock.jump(60_000) // the in-flight refresh is no longer young: no grace cap
    for (let i = 0; i < 3; i++) c.provider.next.push(() => new Response('down', { status: 502 }))
    await rejection(c.client.getToken({ audience: API }))
    const delays = () =>
      c.events.filter((e) => e.type === 'retry_scheduled').map((e) => (e as { inMs: number }).inMs)
    expect(delays()).toEqual([750])
    await c.clock.advance(750)
    await expect.poll(delays).toEqual([750, 1250])
    await c.clock.advance(1250)
    await expect.poll(delays).toEqual([750, 1250, 2250])
    await c.clock.advance(2250)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-in')
    expect(c.refreshes()).toHaveLength(4)
  })

  it('while a possibly rotated refresh is young, retries come within 5 s (inside the grace window)', async () => {
    const c = await setup({ autoRefresh: false, backoff: { baseMs: 20_000, maxMs: 60_000 } })
    await c.signIn()
    c.provider.next.push(() => new TypeError('fetch failed'))
    c.provider.next.push(() => new TypeError('fetch failed'))
    await rejection(c.client.getToken({ audience: API }))
    expect(c.events.filter((e) => e.type === 'retry_scheduled')).toEqual([
      { type: 'retry_scheduled', inMs: 0, errorCode: 'network' },
      { type: 'retry_scheduled', inMs: 5000, errorCode: 'network' },
    ])
  })

  it('429 Retry-After is honoured: no request before it, even from getToken', async () => {
    const c = await setup({ autoRefresh: false })
    await c.signIn()
    c.provider.next.push(() =>
      c.provider.json(429, { error: 'slow_down' }, { 'retry-after': '120' }),
    )
    const err = await rejection(c.client.getToken({ audience: API }))
    expect(err.retryAfterSeconds).toBe(120)
    await c.clock.advance(119_000)
    expect((await rejection(c.client.getToken({ audience: API }))).code).toBe('rate_limited')
    expect(c.refreshes()).toHaveLength(1)
    await c.clock.advance(1000)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-in')
    expect(c.refreshes()).toHaveLength(2)
  })

  it('the online event retries at once (after the resume jitter) instead of waiting for the backoff', async () => {
    const lc = testLifecycle()
    const c = await setup({
      autoRefresh: false,
      lifecycle: lc.lifecycle,
      resumeJitterMs: 1000,
      backoff: { baseMs: 60_000, maxMs: 60_000 },
    })
    await c.signIn()
    c.clock.jump(60_000)
    c.provider.next.push(() => new TypeError('fetch failed'))
    c.provider.next.push(() => new TypeError('fetch failed'))
    await rejection(c.client.getToken({ audience: API }))
    expect(c.refreshes()).toHaveLength(2)
    lc.emit('online')
    await c.clock.advance(500)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-in')
    expect(c.refreshes()).toHaveLength(3)
  })
})

describe('storage failures', () => {
  it('a storage read failure at start keeps state loading (never signed-out), rejects getToken with storage_unavailable, and retries', async () => {
    let failing = true
    const inner = memoryStorage()
    const storage: TesseraStorage = {
      get: (k) => (failing ? Promise.reject(new Error('EIO')) : inner.get(k)),
      set: (k, v) => inner.set(k, v),
      remove: (k) => inner.remove(k),
    }
    const c = await setup({ storage })
    const err = await rejection(c.client.getToken())
    expect(err.code).toBe('storage_unavailable')
    expect(c.client.getSnapshot()).toMatchObject({ status: 'loading', isLoaded: false })
    expect(c.client.getSnapshot().error?.code).toBe('storage_unavailable')
    failing = false
    await c.clock.advance(1000)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-out')
    expect(c.client.getSnapshot().reason).toBe('initial')
  })

  it('a write failure after a refresh keeps the new refresh token in memory (offline, storage_unavailable) and saves it later', async () => {
    let failWrites = false
    const inner = memoryStorage()
    const storage: TesseraStorage = {
      get: (k) => inner.get(k),
      set: (k, v) => (failWrites ? Promise.reject(new Error('quota')) : inner.set(k, v)),
      remove: (k) => inner.remove(k),
    }
    const c = await setup({ storage, autoRefresh: false })
    await c.signIn()
    failWrites = true
    const t = await c.client.getToken({ audience: API })
    expect(c.client.getSnapshot().status).toBe('offline')
    expect(c.client.getSnapshot().error?.code).toBe('storage_unavailable')
    expect(JSON.parse((await inner.get(SESSION_KEY))!).refreshToken).toBe('rt.0')
    // The next refresh presents the newest token (from memory), not the stale stored one.
    c.clock.jump(900_000)
    await c.client.getToken({ audience: API })
    expect(c.refreshes().map((r) => r.form.get('refresh_token'))).toEqual(['rt.0', 'rt.1'])
    failWrites = false
    await c.clock.advance(1000)
    await expect
      .poll(async () => JSON.parse((await inner.get(SESSION_KEY))!).refreshToken)
      .toBe('rt.2')
    expect(c.client.getSnapshot().status).toBe('signed-in')
    expect(t).toBeTruthy()
  })
})

describe('sign-out, idle timeout, diagnostics', () => {
  it('sign-out is local even when the server is unreachable: state, storage and caches cleared', async () => {
    const c = await setup()
    await c.signIn()
    const cleared: string[] = []
    c.client.onSignOut(() => {
      cleared.push('queries')
    })
    c.provider.unreachable = true
    const { endSessionUrl } = await c.client.signOut()
    expect(cleared).toEqual(['queries'])
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'sign_out' })
    expect(await c.storage.get(SESSION_KEY)).toBeNull()
    expect(c.clock.pending()).toEqual([])
    expect(endSessionUrl?.href.startsWith(ISSUER + '/logout?')).toBe(true)
    expect(c.events).toContainEqual({ type: 'sign_out', step: 'revoke_failed' })
  })

  it('idle timeout: sign-out after the configured seconds without activity; activity postpones it', async () => {
    const lc = testLifecycle()
    const c = await setup({
      lifecycle: lc.lifecycle,
      idleTimeout: { seconds: 600, action: 'sign-out' },
    })
    await c.signIn()
    await c.clock.advance(500_000)
    lc.emit('activity')
    await c.clock.advance(500_000)
    expect(c.client.getSnapshot().status).toBe('signed-in')
    await c.clock.advance(100_000)
    await expect.poll(() => c.client.getSnapshot().reason).toBe('idle_timeout')
    expect(await c.storage.get(SESSION_KEY)).toBeNull()
  })

  it('idle timeout with lock: getToken is refused (locked) until unlock()', async () => {
    const lc = testLifecycle()
    const c = await setup({ lifecycle: lc.lifecycle, idleTimeout: { seconds: 60, action: 'lock' } })
    await c.signIn()
    await c.clock.advance(60_000)
    expect(c.client.getSnapshot().locked).toBe(true)
    expect((await rejection(c.client.getToken())).code).toBe('locked')
    c.client.unlock()
    expect(await c.client.getToken()).toMatch(/^ey/)
  })

  it('the diagnostics stream reports cache hits, lock waits and refreshes, and never a token or code', async () => {
    const c = await setup({ autoRefresh: false })
    const url = await c.client.signIn()
    const cb = c.provider.authorize(url)
    await c.client.handleRedirectCallback(cb)
    const secrets = [cb.searchParams.get('code')!, cb.searchParams.get('state')!]
    const rec = JSON.parse((await c.storage.get(SESSION_KEY))!)
    secrets.push(rec.refreshToken, rec.idToken)
    const t = await c.client.getToken({ audience: API })
    secrets.push(t, 'rt.1')
    await c.client.getToken({ audience: API })
    c.provider.next.push(() => new TypeError('fetch failed'))
    c.provider.next.push(() => new TypeError('fetch failed'))
    c.clock.jump(900_000)
    await rejection(c.client.getToken({ audience: API }))
    await c.client.signOut()
    const types = new Set(c.events.map((e) => e.type))
    for (const t of [
      'cache_hit',
      'cache_miss',
      'lock_wait',
      'refresh_start',
      'refresh_end',
      'error',
      'retry_scheduled',
      'state',
      'sign_out',
    ]) {
      expect(types).toContain(t)
    }
    const text = JSON.stringify(c.events)
    for (const s of secrets) expect(text).not.toContain(s)
  })

  it('a session that ends mid-use captures returnTo, and the next sign-in returns there', async () => {
    const here = 'https://app.example.test/orders/42'
    const c = await setup({ autoRefresh: false, currentUrl: () => here })
    await c.signIn()
    c.provider.revokeFamily()
    await rejection(c.client.getToken({ audience: API }))
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-out', returnTo: here })
    const r = await c.client.handleRedirectCallback(c.provider.authorize(await c.client.signIn()))
    expect(r.returnTo).toBe(here)
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-in', returnTo: null })
  })

  it('pending while a sign-in redirect is under way; isLoaded semantics: loading first, never signed-out before storage was read', async () => {
    const opened: string[] = []
    const c = await setup({ navigate: (u) => opened.push(u) })
    const seen: string[] = [c.client.getSnapshot().status]
    c.client.subscribe(() => seen.push(c.client.getSnapshot().status))
    await c.client.whenLoaded()
    const url = await c.client.signIn()
    expect(opened).toEqual([url.href])
    expect(c.client.getSnapshot().status).toBe('pending')
    await c.client.handleRedirectCallback(c.provider.authorize(url))
    expect(seen).toEqual(['loading', 'signed-out', 'pending', 'signed-in'])
  })
})
