/**
 * Several JS contexts sharing one storage (tabs), coordinated by `browserTabSync` without Web
 * Locks (Node has none): the localStorage lease and storage events stand in, as in browsers that
 * lack them. Plus the `fetch` wrapper's URL rules and the axios interceptor.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  attachAxios,
  browserTabSync,
  createTesseraClient,
  memoryStorage,
  saysInvalidToken,
  stepUpChallenge,
  type AxiosLikeInstance,
  type AxiosLikeRequestConfig,
  type AxiosLikeResponse,
  type TesseraStorage,
} from '../../src/index.js'
import { apiForUrl, validateOptions } from '../../src/client/options.js'
import { ManualClock } from '../helpers/clocks.js'
import { API, CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'

/** localStorage shared by several "tabs": a write in one fires `storage` in the others. */
class SharedLocalStorage {
  readonly map = new Map<string, string>()
  readonly tabs = new Set<Map<string, Set<(e: unknown) => void>>>()

  tab() {
    const listeners = new Map<string, Set<(e: unknown) => void>>()
    this.tabs.add(listeners)
    const fire = (key: string, newValue: string | null) => {
      for (const other of this.tabs) {
        if (other === listeners) continue
        for (const l of other.get('storage') ?? []) l({ key, newValue })
      }
    }
    const ls = {
      getItem: (k: string) => this.map.get(k) ?? null,
      setItem: (k: string, v: string) => {
        this.map.set(k, v)
        fire(k, v)
      },
      removeItem: (k: string) => {
        this.map.delete(k)
        fire(k, null)
      },
    } as unknown as Storage
    return {
      /** Fires a window event (`pagehide`) in this tab. */
      fire: (type: string) => {
        for (const l of listeners.get(type) ?? []) l({})
      },
      localStorage: ls,
      addEventListener: ((type: string, l: (e: unknown) => void) => {
        if (!listeners.has(type)) listeners.set(type, new Set())
        listeners.get(type)!.add(l)
      }) as Window['addEventListener'],
      removeEventListener: ((type: string, l: (e: unknown) => void) => {
        listeners.get(type)?.delete(l)
      }) as Window['removeEventListener'],
    }
  }
}

/** The environment parts of a tab (without its `fire`). */
function windowOf(t: ReturnType<SharedLocalStorage['tab']>) {
  const { localStorage, addEventListener, removeEventListener } = t
  return { localStorage, addEventListener, removeEventListener }
}

async function tabs(n: number, withBroadcastChannel: boolean) {
  const clock = new ManualClock()
  const provider = await new FakeProvider(() => clock.now()).init()
  const storage: TesseraStorage = memoryStorage()
  const shared = new SharedLocalStorage()
  const make = () =>
    createTesseraClient({
      issuer: ISSUER,
      clientId: CLIENT_ID,
      redirectUri: REDIRECT,
      apis: [{ baseUrl: API, audience: API }],
      fetch: provider.fetch,
      clock,
      storage,
      autoRefresh: false,
      tabs: browserTabSync({
        name: 'test',
        environment: {
          locks: undefined,
          BroadcastChannel: withBroadcastChannel ? BroadcastChannel : undefined,
          ...windowOf(shared.tab()),
        },
      }),
    })
  const first = make()
  await first.handleRedirectCallback(provider.authorize(await first.signIn()))
  const clients = [first]
  for (let i = 1; i < n; i++) clients.push(make())
  await Promise.all(clients.map((c) => c.whenLoaded()))
  const refreshes = () =>
    provider.calls.filter((c) => c.form.get('grant_type') === 'refresh_token').length
  return { clock, provider, clients, refreshes, shared }
}

describe('tabs without Web Locks: localStorage lease and storage events', () => {
  for (const bc of [false, true]) {
    const how = bc ? 'BroadcastChannel messages' : 'storage-event messages'
    it(`SDK-01 three tabs with an expired token make exactly one refresh (lease lock, ${how})`, async () => {
      const { clock, clients, refreshes, shared } = await tabs(3, bc)
      await clients[0]!.getToken({ audience: API })
      expect(refreshes()).toBe(1)
      clock.jump(900_000)
      const tokens = await Promise.all(clients.map((c) => c.getToken({ audience: API })))
      expect(refreshes()).toBe(2)
      expect(new Set(tokens).size).toBe(1)
      // No lock is left behind, and nothing secret went through localStorage.
      expect([...shared.map.keys()].filter((k) => k.includes(':lock:'))).toEqual([])
      for (const c of clients) c.dispose()
    })

    it(`sign-out in one tab signs out the others (${how})`, async () => {
      const { clients } = await tabs(3, bc)
      await clients[0]!.signOut()
      for (const c of clients.slice(1)) {
        await expect.poll(() => c.getSnapshot().status).toBe('signed-out')
        expect(c.getSnapshot().reason).toBe('other_tab')
        await expect(c.getToken({ audience: API })).rejects.toMatchObject({
          code: 'login_required',
        })
      }
      for (const c of clients) c.dispose()
    })
  }
})

describe('the localStorage lease lock (no Web Locks)', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  function twoTabs() {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] })
    const shared = new SharedLocalStorage()
    const a = shared.tab()
    const b = shared.tab()
    // Each tab's random numbers differ (its owner id in the lease comes from them).
    const sync = (t: typeof a, r: number) =>
      browserTabSync({
        name: 't',
        environment: {
          locks: undefined,
          BroadcastChannel: undefined,
          random: () => r,
          ...windowOf(t),
        },
      })
    return { shared, a, b, tabA: sync(a, 0.5), tabB: sync(b, 0.25) }
  }

  it('a lease lasts 35 s by default: a tab that hangs holding it blocks the others that long, then it is taken over', async () => {
    const { shared, tabA, tabB } = twoTabs()
    const t0 = Date.now()
    let aHolds = false
    void tabA.withLock('refresh', () => {
      aHolds = true
      return new Promise<never>(() => {}) // the tab hangs (a frozen page)
    })
    await vi.advanceTimersByTimeAsync(100) // A's write is confirmed after 30-60 ms
    expect(aHolds).toBe(true)
    expect(JSON.parse(shared.map.get('t:lock:refresh')!).until).toBe(t0 + 35_000)
    let bHolds = false
    const b = tabB.withLock('refresh', () => {
      bHolds = true
      return Promise.resolve('b')
    })
    await vi.advanceTimersByTimeAsync(34_800)
    expect(Date.now()).toBe(t0 + 34_900)
    expect(bHolds).toBe(false)
    await vi.advanceTimersByTimeAsync(500)
    expect(bHolds).toBe(true)
    await expect(b).resolves.toBe('b')
    expect(shared.map.has('t:lock:refresh')).toBe(false)
  })

  it('a tab that unloads (pagehide) releases its lease at once: the next tab gets the lock long before 35 s', async () => {
    const { shared, a, tabA, tabB } = twoTabs()
    const t0 = Date.now()
    void tabA.withLock('refresh', () => new Promise<never>(() => {}))
    await vi.advanceTimersByTimeAsync(100)
    expect(shared.map.has('t:lock:refresh')).toBe(true)
    let bHolds = false
    void tabB.withLock('refresh', () => {
      bHolds = true
      return new Promise<never>(() => {})
    })
    await vi.advanceTimersByTimeAsync(1000)
    expect(bHolds).toBe(false)
    a.fire('pagehide')
    expect(shared.map.has('t:lock:refresh')).toBe(false)
    await vi.advanceTimersByTimeAsync(300)
    expect(bHolds).toBe(true)
    expect(Date.now() - t0).toBeLessThan(2000)
  })
})

describe('fetch: which URLs get a token', () => {
  const apis = validateOptions({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT,
    apis: [
      { baseUrl: 'https://api.example.test', audience: 'a' },
      { baseUrl: 'https://api.example.test/v1', audience: 'v1' },
    ],
  })
  const rows: [string, string | undefined][] = [
    ['https://api.example.test/orders', 'a'],
    ['https://api.example.test', 'a'],
    ['https://api.example.test/v1/orders?x=1', 'v1'],
    ['https://api.example.test/v1', 'v1'],
    ['https://api.example.test/v10/orders', 'a'],
    ['https://api.example.test.evil.test/orders', undefined],
    ['https://api.example.test:8443/orders', undefined],
    ['http://api.example.test/orders', undefined],
    ['https://evil.test/?https://api.example.test/', undefined],
  ]
  for (const [url, aud] of rows) {
    it(`${url} -> ${aud ?? 'no token'}`, () => {
      expect(apiForUrl(apis, url)?.audience).toBe(aud)
    })
  }

  it('WWW-Authenticate values that say invalid_token', () => {
    const table: [string | null, boolean][] = [
      ['Bearer error="invalid_token"', true],
      ['Bearer realm="api", error="invalid_token", error_description="expired"', true],
      ['bearer error=invalid_token', true],
      ['Bearer realm="api", error="insufficient_scope"', false],
      ['Bearer realm="api"', false],
      ['Basic realm="x"', false],
      [null, false],
    ]
    for (const [h, want] of table) expect(saysInvalidToken(h)).toBe(want)
  })

  it('STEP-01 stepUpChallenge reads acr_values and max_age of an insufficient_user_authentication challenge (RFC 9470 3), quoted or not', () => {
    const E = 'error="insufficient_user_authentication"'
    const D = 'error_description="a sign-in with max_age=5, please"'
    const table: [string | null, ReturnType<typeof stepUpChallenge>][] = [
      [`Bearer ${E}, ${D}, max_age="60"`, { acrValues: undefined, maxAge: 60 }],
      [`Bearer realm="tessera", ${E}, ${D}, max_age=300`, { acrValues: undefined, maxAge: 300 }],
      [
        `DPoP ${E}, ${D}, acr_values="urn:tessera:acr:mfa urn:x", max_age="0"`,
        { acrValues: ['urn:tessera:acr:mfa', 'urn:x'], maxAge: 0 },
      ],
      [
        `Bearer ${E}, acr_values=urn:tessera:acr:mfa`,
        { acrValues: ['urn:tessera:acr:mfa'], maxAge: undefined },
      ],
      [`Bearer ${E}`, { acrValues: undefined, maxAge: undefined }],
      [
        'Bearer error="invalid_token", error_description="insufficient_user_authentication"',
        undefined,
      ],
      ['Bearer error="insufficient_scope", scope="orders"', undefined],
      [null, undefined],
    ]
    for (const [h, want] of table) expect(stepUpChallenge(h), String(h)).toEqual(want)
  })

  it('a 401 without error="invalid_token" is returned without a refresh or a replay', async () => {
    const clock = new ManualClock()
    const provider = await new FakeProvider(() => clock.now()).init()
    let apiCalls = 0
    const client = createTesseraClient({
      issuer: ISSUER,
      clientId: CLIENT_ID,
      redirectUri: REDIRECT,
      apis: [{ baseUrl: API, audience: API }],
      clock,
      fetch: async (input, init) => {
        const req = new Request(input, init)
        if (req.url.startsWith(API)) {
          apiCalls++
          return new Response(null, {
            status: 401,
            headers: { 'www-authenticate': 'Bearer realm="api"' },
          })
        }
        return provider.fetch(req)
      },
    })
    await client.handleRedirectCallback(provider.authorize(await client.signIn()))
    const res = await client.fetch(API + '/orders')
    expect(res.status).toBe(401)
    expect(apiCalls).toBe(1)
    expect(provider.calls.filter((c) => c.form.get('grant_type') === 'refresh_token')).toHaveLength(
      1,
    )
  })
})

/**
 * The parts of axios the interceptor relies on, as axios runs them: request interceptors before
 * the adapter, response interceptors after, rejected handlers for statuses >= 400, and
 * `request(config)` running the whole chain again.
 */
function axiosLike(adapter: (c: AxiosLikeRequestConfig) => Promise<AxiosLikeResponse>) {
  type Pair = { ok?: (v: any) => any; err?: (e: unknown) => any }
  const req: (Pair | null)[] = []
  const res: (Pair | null)[] = []
  const manager = (list: (Pair | null)[]) => ({
    use: (ok?: (v: any) => any, err?: (e: unknown) => any) => list.push({ ok, err }) - 1,
    eject: (id: number) => {
      list[id] = null
    },
  })
  const instance: AxiosLikeInstance & { calls: AxiosLikeRequestConfig[] } = {
    calls: [],
    interceptors: { request: manager(req), response: manager(res) },
    async request(config) {
      let c = { ...config, headers: { ...((config.headers as object) ?? {}) } }
      for (const p of [...req].reverse()) if (p?.ok) c = await p.ok(c)
      instance.calls.push(c)
      let chain: Promise<unknown> = adapter(c).then((r) =>
        r.status >= 400
          ? Promise.reject(
              Object.assign(new Error('status'), { config: c, response: { ...r, config: c } }),
            )
          : r,
      )
      for (const p of res) if (p) chain = chain.then(p.ok, p.err)
      return chain
    },
  }
  return instance
}

describe('axios interceptor', () => {
  it('attaches the token by URL, refreshes once on 401 invalid_token, replays once, and detaches', async () => {
    const clock = new ManualClock()
    const provider = await new FakeProvider(() => clock.now()).init()
    const client = createTesseraClient({
      issuer: ISSUER,
      clientId: CLIENT_ID,
      redirectUri: REDIRECT,
      apis: [{ baseUrl: API, audience: API }],
      clock,
      fetch: provider.fetch,
    })
    await client.handleRedirectCallback(provider.authorize(await client.signIn()))
    const first = await client.getToken({ audience: API })
    const ax = axiosLike((c) => {
      const auth = (c.headers as Record<string, string>).Authorization
      return Promise.resolve(
        auth === `Bearer ${first}`
          ? { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } }
          : { status: 200, headers: {} },
      )
    })
    const detach = attachAxios(client, ax)
    const r = (await ax.request({ baseURL: API, url: '/orders' })) as AxiosLikeResponse
    expect(r.status).toBe(200)
    expect(ax.calls).toHaveLength(2)
    const second = (ax.calls[1]!.headers as Record<string, string>).Authorization
    expect(second).toMatch(/^Bearer /)
    expect(second).not.toBe(`Bearer ${first}`)
    // Other origins get nothing.
    await ax.request({ url: 'https://elsewhere.test/x' })
    expect((ax.calls[2]!.headers as Record<string, string>).Authorization).toBeUndefined()
    detach()
    await ax.request({ baseURL: API, url: '/orders' })
    expect((ax.calls[3]!.headers as Record<string, string>).Authorization).toBeUndefined()
  })

  it('a replayed request that gets 401 again is rejected, not replayed again', async () => {
    const clock = new ManualClock()
    const provider = await new FakeProvider(() => clock.now()).init()
    const client = createTesseraClient({
      issuer: ISSUER,
      clientId: CLIENT_ID,
      redirectUri: REDIRECT,
      apis: [{ baseUrl: API, audience: API }],
      clock,
      fetch: provider.fetch,
    })
    await client.handleRedirectCallback(provider.authorize(await client.signIn()))
    const ax = axiosLike(() =>
      Promise.resolve({
        status: 401,
        headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      }),
    )
    attachAxios(client, ax)
    await expect(ax.request({ baseURL: API, url: '/orders' })).rejects.toMatchObject({
      response: { status: 401 },
    })
    expect(ax.calls).toHaveLength(2)
  })
})
