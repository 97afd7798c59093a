/**
 * The adapters together, as an app on a phone uses them, against a real Tessera server (in a child
 * process) and the stand-ins of the native modules: sign-in through the system browser with a
 * private-use scheme, cold starts from secure storage, background and foreground, offline, a
 * kill in the middle of a refresh, sign-out.
 */
import { createTesseraClient, type SessionStatus, type TesseraClient } from '@tessera/client'
import { ShiftedClock } from '../../client/test/helpers/clocks.js'
import { CountingFetch } from '../../client/test/helpers/counting-fetch.js'
import {
  hermesCrypto,
  reactNativeLifecycle,
  secureStoreStorage,
  signInWithBrowser,
  TesseraNativeError,
} from '../src/index.js'
import { fakeExpoCrypto, startTesseraProcess, type TesseraProcess } from './helpers/tessera.js'
import { FakeSecureStore } from './stand-ins/secure-store.js'
import { FakeAppState, FakeLinking, FakeNetInfo } from './stand-ins/platform.js'

const REDIRECT = 'com.example.app:/callback'
let server: TesseraProcess

beforeAll(async () => {
  server = await startTesseraProcess()
}, 60_000)
afterAll(async () => {
  await server.close()
})

interface App {
  client: TesseraClient
  counting: CountingFetch
  appState: FakeAppState
  netInfo: FakeNetInfo
  statuses: SessionStatus[]
}

const clock = new ShiftedClock()

/**
 * The shared clock, whose timers of a second or more never fire (backoff retries, warming, request
 * timeouts): whatever happens then was started by an event, not by a timer.
 */
const heldClock = {
  now: () => clock.now(),
  setTimeout: (fn: () => void, ms: number): unknown =>
    ms < 1000 ? clock.setTimeout(fn, ms) : { held: fn },
  clearTimeout: (h: unknown) => clock.clearTimeout(h),
}

function launch(
  device: FakeSecureStore,
  o: { online?: boolean; counting?: CountingFetch; holdTimers?: boolean } = {},
) {
  const appState = new FakeAppState()
  const netInfo = new FakeNetInfo()
  if (o.online === false) netInfo.state = { isConnected: false, isInternetReachable: false }
  const counting = o.counting ?? new CountingFetch()
  const client = createTesseraClient({
    issuer: server.issuer,
    clientId: 'native-app',
    redirectUri: REDIRECT,
    apis: [{ baseUrl: server.api, audience: server.api, scope: 'orders' }],
    storage: secureStoreStorage(device),
    lifecycle: reactNativeLifecycle({ appState, netInfo }),
    crypto: hermesCrypto(fakeExpoCrypto),
    clock: o.holdTimers ? heldClock : clock,
    ...(o.holdTimers ? { backoff: { baseMs: 10_000 } } : {}),
    fetch: counting.fetch,
    random: () => 0.5,
    resumeJitterMs: 200,
  })
  const statuses: SessionStatus[] = []
  client.subscribe(() => statuses.push(client.getSnapshot().status))
  return { client, counting, appState, netInfo, statuses } satisfies App
}

/** The system browser: the hosted form signs alice in and redirects to the app's scheme. */
function browser(
  mode: 'success' | 'dismiss-then-link',
  linking?: FakeLinking,
  rewrite: (location: string) => string = (l) => l,
) {
  return {
    opened: [] as string[],
    urls: [] as URL[],
    options: [] as unknown[],
    async openAuthSessionAsync(
      url: string,
      redirectUrl?: string | null,
      options?: Record<string, unknown>,
    ): Promise<{ type: string; url?: string }> {
      this.opened.push(redirectUrl ?? '')
      this.urls.push(new URL(url))
      this.options.push(options)
      const location = rewrite(await server.follow(new URL(url)))
      if (mode === 'success') return { type: 'success', url: location }
      setTimeout(() => linking!.open(location), 20)
      return { type: 'dismiss' }
    },
  }
}

async function signedIn(device = new FakeSecureStore()) {
  const app = launch(device)
  await app.client.whenLoaded()
  await signInWithBrowser(app.client, { browser: browser('success') })
  return { device, app }
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function shift(ms: number) {
  clock.offset += ms
  return server.setClock(clock.now())
}

afterEach(async () => {
  clock.offset = 0
  await server.setClock(Date.now())
})

describe('sign-in through the system browser', () => {
  it('RFC 8252 signs in with a private-use scheme redirect, PKCE and iss checked; the token works at the API', async () => {
    const device = new FakeSecureStore()
    const app = launch(device)
    const b = browser('success')
    const result = await signInWithBrowser(app.client, { browser: b })
    expect(b.opened).toEqual([REDIRECT])
    expect(result.user?.sub).toBeTruthy()
    expect(app.client.getSnapshot().status).toBe('signed-in')
    const res = await app.client.fetch(server.api + '/orders')
    expect(res.status).toBe(200)
    expect(app.counting.tokenCalls.map((c) => c.grantType)).toEqual([
      'authorization_code',
      'refresh_token',
    ])
    app.client.dispose()
  })

  it('APP-12 the next sign-in does not silently reuse the browser’s sign-in unless the app asks', async () => {
    const app = launch(new FakeSecureStore())
    const b = browser('success')
    await signInWithBrowser(app.client, { browser: b })
    expect(b.urls[0]!.searchParams.get('prompt')).toBe('login')
    expect(b.options[0]).toEqual({ preferEphemeralSession: true })
    await app.client.signOut()
    await signInWithBrowser(app.client, { browser: b, reuseBrowserSession: true })
    expect(b.urls[1]!.searchParams.get('prompt')).toBeNull()
    expect(b.options[1]).toBeUndefined()
    app.client.dispose()
  })

  it('RFC 9207 a redirect whose iss is not the issuer is refused without a code exchange', async () => {
    const app = launch(new FakeSecureStore())
    const b = browser('success', undefined, (l) => {
      const u = new URL(l)
      u.searchParams.set('iss', 'https://evil.example.com')
      return u.href
    })
    await expect(signInWithBrowser(app.client, { browser: b })).rejects.toMatchObject({
      code: 'iss_mismatch',
    })
    expect(app.counting.tokenCalls).toHaveLength(0)
    expect(app.client.getSnapshot().status).toBe('signed-out')
    app.client.dispose()
  })

  it('the redirect that arrives through Linking after the browser said dismiss completes the sign-in once', async () => {
    const app = launch(new FakeSecureStore())
    const linking = new FakeLinking()
    await signInWithBrowser(app.client, { browser: browser('dismiss-then-link', linking), linking })
    expect(app.client.getSnapshot().isSignedIn).toBe(true)
    expect(
      app.counting.tokenCalls.filter((c) => c.grantType === 'authorization_code'),
    ).toHaveLength(1)
    app.client.dispose()
  })

  it('a browser closed without a redirect rejects with sign_in_cancelled and stays signed out', async () => {
    const app = launch(new FakeSecureStore())
    const err = await signInWithBrowser(app.client, {
      browser: { openAuthSessionAsync: () => Promise.resolve({ type: 'cancel' }) },
      linking: new FakeLinking(),
      linkingGraceMs: 50,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(TesseraNativeError)
    expect(err).toMatchObject({ code: 'sign_in_cancelled', reason: 'cancel' })
    expect(app.client.getSnapshot().status).toBe('signed-out')
    expect(app.counting.tokenCalls).toHaveLength(0)
    app.client.dispose()
  })
})

describe('cold start, background, offline (APP-01, APP-04)', () => {
  it('cold start from secure storage with an expired access token makes one refresh', async () => {
    const { device, app } = await signedIn()
    await app.client.getToken({ audience: server.api })
    app.client.dispose()
    await shift(11 * 60_000) // past the API token's 10 minutes
    const next = launch(device.relaunch())
    expect((await next.client.whenLoaded()).status).toBe('signed-in')
    const tokens = await Promise.all(
      Array.from({ length: 10 }, () => next.client.getToken({ audience: server.api })),
    )
    expect(new Set(tokens).size).toBe(1)
    expect(next.counting.refreshes()).toHaveLength(1)
    expect((await next.client.fetch(server.api + '/orders')).status).toBe(200)
    expect(next.statuses).not.toContain('signed-out')
    next.client.dispose()
  })

  it('APP-01 background for an hour, then foreground: one refresh, never signed-out for a live session', async () => {
    const { app } = await signedIn()
    await app.client.getToken({ audience: server.api })
    app.statuses.length = 0
    app.appState.set('inactive')
    app.appState.set('background')
    await shift(60 * 60_000)
    const before = app.counting.refreshes().length
    app.appState.set('active')
    const tokens = await Promise.all(
      Array.from({ length: 5 }, () => app.client.getToken({ audience: server.api })),
    )
    expect(new Set(tokens).size).toBe(1)
    expect(app.counting.refreshes().length - before).toBe(1)
    // The resume warm-up (after its jitter) finds fresh tokens and sends nothing more.
    await new Promise((r) => setTimeout(r, 300))
    expect(app.counting.refreshes().length - before).toBe(1)
    expect(app.statuses).not.toContain('signed-out')
    app.client.dispose()
  })

  it('APP-01 a token used before a short background is refreshed once after the resume jitter, not before', async () => {
    const { app } = await signedIn()
    await app.client.getToken({ audience: server.api })
    app.statuses.length = 0
    app.appState.set('background')
    await shift(9 * 60_000 + 45_000) // stale (within the 30 s skew), still used within its lifetime
    const before = app.counting.refreshes().length
    app.appState.set('active')
    expect(app.counting.refreshes().length - before).toBe(0) // jitter first (100 ms here)
    await until(() => app.counting.refreshes().length - before === 1, 'the resume refresh')
    await new Promise((r) => setTimeout(r, 300))
    expect(app.counting.refreshes().length - before).toBe(1)
    expect(app.statuses).not.toContain('signed-out')
    app.client.dispose()
  })

  it('APP-04 offline start keeps the session, reports offline, and online resumes with one refresh', async () => {
    const { device, app } = await signedIn()
    await app.client.getToken({ audience: server.api })
    app.client.dispose()
    await shift(11 * 60_000)
    const counting = new CountingFetch()
    counting.beforeToken = () => (online ? undefined : new TypeError('Network request failed'))
    let online = false
    // Timers of a second or more are held: only NetInfo's `online` can resume the refresh.
    const next = launch(device.relaunch(), { online: false, counting, holdTimers: true })
    expect((await next.client.whenLoaded()).isSignedIn).toBe(true)
    await expect(next.client.getToken({ audience: server.api })).rejects.toMatchObject({
      code: 'network',
    })
    expect(next.client.getSnapshot().status).toBe('offline')
    expect(next.client.getSnapshot().isSignedIn).toBe(true)
    const sent = counting.refreshes().length
    online = true
    next.netInfo.set(true, true)
    await until(() => next.client.getSnapshot().status === 'signed-in', 'online again')
    expect(counting.refreshes().length - sent).toBe(1)
    expect(next.statuses).not.toContain('signed-out')
    next.client.dispose()
  })
})

describe('secure storage failures at start', () => {
  it('APP-09 a stored session the store cannot decrypt: deleted, cleanly signed out, no crash and no loop', async () => {
    const { device, app } = await signedIn()
    app.client.dispose()
    const chunk = device.keys().find((k) => /session\.[ab]\.1$/.test(k))!
    device.corrupt(chunk)
    const again = device.relaunch()
    const next = launch(again)
    const snap = await next.client.whenLoaded()
    expect(snap.status).toBe('signed-out')
    expect(snap.reason).toBe('initial')
    expect(again.keys().filter((k) => k.includes('session'))).toEqual([])
    expect(again.log.filter((l) => l.startsWith('delete'))).not.toEqual([])
    const calls = again.log.length
    await new Promise((r) => setTimeout(r, 200))
    expect(again.log.length).toBe(calls)
    next.client.dispose()
  })

  it('a store locked until the first unlock keeps the app loading, never signed-out, then loads the session', async () => {
    const { device, app } = await signedIn()
    app.client.dispose()
    const locked = device.relaunch()
    locked.lockUntilFirstUnlock()
    const next = launch(locked)
    await until(() => next.client.getSnapshot().error?.code === 'storage_unavailable', 'the error')
    expect(next.client.getSnapshot().status).toBe('loading')
    locked.unlock()
    await until(() => next.client.getSnapshot().status === 'signed-in', 'the session to load')
    expect(next.statuses).not.toContain('signed-out')
    next.client.dispose()
  })
})

describe('interrupted refresh (SDK-02)', () => {
  it('a killed app mid-refresh recovers on the next start through the grace window', async () => {
    const { device, app } = await signedIn()
    await app.client.getToken({ audience: server.api })
    await shift(11 * 60_000)
    // The refresh reaches the server (which rotates) but the app dies before the answer.
    app.counting.afterToken = () => 'hang'
    const sent = app.counting.refreshes().length
    void app.client.getToken({ audience: server.api }).catch(() => {})
    await until(() => app.counting.refreshes().length === sent + 1, 'the refresh to leave')
    // Wait until the SDK-02 marker (the refresh in flight) is in secure storage.
    for (let i = 0; ; i++) {
      const raw = await secureStoreStorage(device).get('tessera.native-app.session')
      if (raw !== null && JSON.parse(raw).refreshStartedAt !== null) break
      if (i > 200) throw new Error('no SDK-02 marker stored')
      await new Promise((r) => setTimeout(r, 10))
    }
    app.client.dispose()
    const next = launch(device.relaunch())
    expect((await next.client.whenLoaded()).isSignedIn).toBe(true)
    await until(() => next.counting.refreshes().length === 1, 'the retry at start')
    expect(next.counting.refreshes()[0]!.refreshToken).toBe(
      app.counting.refreshes()[sent]!.refreshToken,
    )
    const res = await next.client.fetch(server.api + '/orders')
    expect(res.status).toBe(200)
    expect(next.statuses).not.toContain('signed-out')
    next.client.dispose()
  })
})

describe('sign-out (APP-12)', () => {
  it('revokes at the server and clears every stored item, chunks included', async () => {
    const { device, app } = await signedIn()
    const storage = secureStoreStorage(device)
    app.client.onSignOut(() => storage.clear())
    await app.client.getToken({ audience: server.api })
    expect(device.keys().length).toBeGreaterThan(2)
    await app.client.signOut()
    expect(app.counting.revocations).toHaveLength(1)
    expect(device.keys()).toEqual([])
    const next = launch(device.relaunch())
    expect((await next.client.whenLoaded()).status).toBe('signed-out')
    next.client.dispose()
    app.client.dispose()
  })
})
