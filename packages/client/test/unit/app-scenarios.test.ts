/**
 * App scenarios (shared/APP-SCENARIOS.md) whose behaviour belongs to the core client, with fake
 * time (ManualClock), a stand-in lifecycle (AppState and NetInfo as the client sees them) and an
 * in-process provider. The same scenarios against the real server are in
 * test/integration/tessera.test.ts.
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
import { ManualClock } from '../helpers/clocks.js'
import { API, CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'

/** AppState (`active` / `background`) and NetInfo (`isConnected`) as a Lifecycle. */
function appLifecycle() {
  const listeners = new Set<(e: LifecycleEvent) => void>()
  const state = { foreground: true, online: true }
  const lifecycle: Lifecycle = {
    subscribe(l) {
      listeners.add(l)
      return () => listeners.delete(l)
    },
    isForeground: () => state.foreground,
    isOnline: () => state.online,
  }
  const emit = (e: LifecycleEvent) => {
    if (e === 'foreground') state.foreground = true
    if (e === 'background') state.foreground = false
    if (e === 'online') state.online = true
    if (e === 'offline') state.online = false
    for (const l of listeners) l(e)
  }
  return { lifecycle, state, emit }
}

async function setup(
  o: Partial<TesseraClientOptions> & {
    storage?: TesseraStorage
    clock?: ManualClock
    provider?: FakeProvider
  } = {},
) {
  const clock = o.clock ?? new ManualClock()
  const provider = o.provider ?? (await new FakeProvider(() => clock.now()).init())
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
    resumeJitterMs: 1000,
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

describe('APP-01 the access token expires while the app is in the background', () => {
  it('APP-01 no refresh from a timer while in the background; exactly one on the transition to active; no sign-out; the screen gets the new token', async () => {
    const app = appLifecycle()
    const c = await setup({ lifecycle: app.lifecycle })
    await c.signIn()
    const t1 = await c.client.getToken({ audience: API })
    expect(c.refreshes()).toHaveLength(1)
    app.emit('background')
    // The warming timer fires in the background (its decision is synchronous): it declines.
    expect(c.clock.pending()).toHaveLength(2)
    await c.clock.advance(60 * 60_000)
    expect(c.clock.pending()).toEqual([])
    expect(c.refreshes()).toHaveLength(1)
    expect(c.client.getSnapshot().status).toBe('signed-in')
    app.emit('foreground')
    await c.clock.advance(1000) // the resume jitter
    const ok = () => c.events.filter((e) => e.type === 'refresh_end' && e.ok).length
    await expect.poll(ok).toBe(2)
    expect(c.refreshes()).toHaveLength(2)
    const t2 = await c.client.getToken({ audience: API })
    expect(t2).not.toBe(t1)
    expect(c.refreshes()).toHaveLength(2)
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-in', isSignedIn: true })
  })
})

describe('APP-04 cold start offline with an expired access token and a live refresh token', () => {
  it('APP-04 signed in and marked offline; no request while offline; exactly one refresh when the network returns', async () => {
    const clock = new ManualClock()
    const storage = memoryStorage()
    const first = await setup({ clock, storage })
    await first.signIn()
    await first.client.getToken({ audience: API })
    first.client.dispose()
    clock.jump(60 * 60_000) // the access tokens have expired; the refresh token lives

    const app = appLifecycle()
    app.state.online = false
    const c = await setup({ clock, storage, provider: first.provider, lifecycle: app.lifecycle })
    c.provider.unreachable = true
    const before = c.provider.calls.length
    const snap = await c.client.whenLoaded()
    expect(snap).toMatchObject({ status: 'offline', isSignedIn: true })
    expect(snap.error).toEqual({ code: 'network', message: 'the device is offline' })
    const err = await rejection(c.client.getToken({ audience: API }))
    expect(err).toMatchObject({ code: 'network', message: 'the device is offline' })
    await c.clock.advance(10 * 60_000)
    expect(c.provider.calls.length).toBe(before)
    expect(c.client.getSnapshot()).toMatchObject({ status: 'offline', isSignedIn: true })

    c.provider.unreachable = false
    app.emit('online')
    await c.clock.advance(1000)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-in')
    expect(c.refreshes()).toHaveLength(2) // one by the first client, one on `online`
    await c.client.getToken({ audience: API })
    expect(c.refreshes()).toHaveLength(2)
  })
})

describe('APP-04 the network returns with nothing waiting', () => {
  it('APP-04 a cold start offline that asked for nothing: online makes it signed-in again, without a request', async () => {
    const clock = new ManualClock()
    const storage = memoryStorage()
    const first = await setup({ clock, storage })
    await first.signIn()
    first.client.dispose()
    const app = appLifecycle()
    app.state.online = false
    const c = await setup({ clock, storage, provider: first.provider, lifecycle: app.lifecycle })
    expect((await c.client.whenLoaded()).status).toBe('offline')
    const before = c.provider.calls.length
    app.emit('online')
    await c.clock.advance(1000)
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-in', error: null })
    expect(c.provider.calls.length).toBe(before)
  })
})

describe('APP-05 refresh fails again and again', () => {
  it('APP-05 network errors, 5xx and 429 in a row: backoff with jitter above a floor, the session kept throughout; only invalid_grant signs out', async () => {
    const c = await setup({ autoRefresh: false, random: () => 0 })
    await c.signIn()
    c.clock.jump(60 * 60_000) // no grace-window cap: plain backoff
    const down = () => new TypeError('fetch failed')
    const answers = [
      down,
      down,
      () => new Response('bad gateway', { status: 502 }),
      () => c.provider.json(429, { error: 'slow_down' }, { 'retry-after': '3' }),
      () => new Response('unavailable', { status: 503 }),
    ]
    for (const a of answers) c.provider.next.push(a)
    await rejection(c.client.getToken({ audience: API }))
    const delays = () =>
      c.events.flatMap((e) => (e.type === 'retry_scheduled' && e.inMs > 0 ? [e.inMs] : []))
    // random 0 gives the floor of each step: half of min(base, ceiling), never 0.
    await c.clock.advance(500)
    await expect.poll(delays).toEqual([500, 500])
    await c.clock.advance(500)
    await expect.poll(delays).toEqual([500, 500, 3000])
    await c.clock.advance(3000)
    await expect.poll(delays).toEqual([500, 500, 3000, 500])
    for (const d of delays()) expect(d).toBeGreaterThanOrEqual(500)
    const snap = c.client.getSnapshot()
    expect(snap).toMatchObject({ status: 'offline', isSignedIn: true })
    expect(JSON.parse((await c.storage.get(`tessera.${CLIENT_ID}.session`))!).refreshToken).toBe(
      'rt.0',
    )
    c.provider.revokeFamily()
    await c.clock.advance(500)
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-out')
    // invalid_grant after attempts that may have rotated the token: refresh_reused (SDK-02).
    expect(c.client.getSnapshot().reason).toBe('refresh_reused')
  })
})

describe('APP-13 a callback handled twice (React StrictMode)', () => {
  it('APP-13 two concurrent handleRedirectCallback calls for one callback: exactly one code exchange, both resolve, no signed-out flash', async () => {
    const c = await setup()
    await c.client.whenLoaded()
    const states: string[] = []
    c.client.subscribe(() => states.push(c.client.getSnapshot().status))
    const cb = c.provider.authorize(await c.client.signIn())
    const [a, b] = await Promise.all([
      c.client.handleRedirectCallback(cb),
      c.client.handleRedirectCallback(cb.href),
    ])
    expect(a.user?.sub).toBeDefined()
    expect(b).toBe(a)
    const exchanges = c.provider.calls.filter(
      (x) => x.path === '/token' && x.form.get('grant_type') === 'authorization_code',
    )
    expect(exchanges).toHaveLength(1)
    expect(states).not.toContain('signed-out')
    expect(c.client.getSnapshot().status).toBe('signed-in')
    // Once handled, the same callback again is a replay: refused, no second exchange (SDK-03).
    expect((await rejection(c.client.handleRedirectCallback(cb))).code).toBe('state_mismatch')
    expect(
      c.provider.calls.filter((x) => x.form.get('grant_type') === 'authorization_code'),
    ).toHaveLength(1)
  })

  it('APP-13 a callback with a wrong or missing state is refused without a token request', async () => {
    const c = await setup()
    const cb = c.provider.authorize(await c.client.signIn())
    const wrong = new URL(cb)
    wrong.searchParams.set('state', 'x'.repeat(43))
    const missing = new URL(cb)
    missing.searchParams.delete('state')
    expect((await rejection(c.client.handleRedirectCallback(wrong))).code).toBe('state_mismatch')
    expect((await rejection(c.client.handleRedirectCallback(missing))).code).toBe('state_mismatch')
    expect(c.provider.calls.filter((x) => x.path === '/token')).toEqual([])
  })
})
