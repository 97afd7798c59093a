// @vitest-environment tessera-dom
/**
 * The hooks with a real client against a real Tessera server on loopback: two tabs (two clients
 * sharing one storage and a real BroadcastChannel) follow each other's sign-in and sign-out; ten
 * components that get a 401 at once make one refresh (counted in the requests and in the
 * server's store); `useAuth` re-renders once per session change and not on refreshes; its
 * functions keep their identity.
 */
import { useEffect, useState } from 'react'
import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { browserTabSync, memoryStorage, type TesseraClient } from '@tessera/client'
import { ShiftedClock } from '../../client/test/helpers/clocks.js'
import {
  API_A,
  clientFor,
  sessionIdOf,
  signIn,
  startTessera,
  storedSession,
  type Tessera,
} from '../../client/test/helpers/tessera.js'
import {
  SignedIn,
  SignedOut,
  TesseraProvider,
  TesseraReactError,
  useApi,
  useAuth,
  useAuthenticatedFetch,
  useProvidedClient,
  useSession,
  type UseAuthResult,
} from '../src/index.js'

let s: Tessera
const clients: TesseraClient[] = []

beforeAll(async () => {
  s = await startTessera()
})
afterEach(() => {
  cleanup()
  for (const c of clients.splice(0)) c.dispose()
})
afterAll(async () => {
  await s.close()
})

async function sessionRow(sid: string) {
  const row = await s.t.store.getSession(sid)
  if (!row) throw new Error('no session row')
  return row
}

/** Lets pending promise jobs and one macrotask run inside act(). */
const flush = () => act(async () => new Promise((r) => setTimeout(r, 0)))

function AuthPanel() {
  const { isLoaded, isSignedIn, user, signOut } = useAuth()
  const { status, reason } = useSession()
  return (
    <div>
      <p data-testid="auth">{`${isLoaded}:${String(isSignedIn)}:${user?.sub ?? '-'}`}</p>
      <p data-testid="session">{`${status}:${reason ?? '-'}`}</p>
      <SignedIn>
        <p>in</p>
      </SignedIn>
      <SignedOut>
        <p>out</p>
      </SignedOut>
      <button onClick={() => void signOut()}>sign out</button>
    </div>
  )
}

describe('tabs', () => {
  it('sign-out in one tab updates every tab’s hooks (shared storage, real BroadcastChannel)', async () => {
    const storage = memoryStorage()
    const tab = (name: string) =>
      clientFor(s, {
        storage,
        tabs: browserTabSync({
          name: 'tabs-test',
          environment: { BroadcastChannel: globalThis.BroadcastChannel },
        }),
        onDiagnostic: (e) => {
          if (e.type === 'tab_message') heard.push(`${name}:${e.message}`)
        },
      }).client
    const heard: string[] = []
    const one = tab('one')
    const two = tab('two')
    clients.push(one, two)
    const view = render(
      <div>
        <section data-testid="tab1">
          <TesseraProvider client={one}>
            <AuthPanel />
          </TesseraProvider>
        </section>
        <section data-testid="tab2">
          <TesseraProvider client={two}>
            <AuthPanel />
          </TesseraProvider>
        </section>
      </div>,
    )
    const tab1 = within(view.getByTestId('tab1'))
    const tab2 = within(view.getByTestId('tab2'))
    await act(async () => {
      await Promise.all([one.whenLoaded(), two.whenLoaded()])
    })
    expect(tab2.getByTestId('auth').textContent).toBe('true:false:-')

    // Sign in in tab 1: tab 2 hears `signed-in` and reads the session from the shared storage.
    await act(async () => {
      await signIn(s, one)
      await expect.poll(() => two.getSnapshot().status).toBe('signed-in')
    })
    expect(heard).toContain('two:signed-in')
    for (const t of [tab1, tab2]) {
      expect(t.getByTestId('auth').textContent).toBe(`true:true:${s.alice.id}`)
      expect(t.getByText('in')).toBeTruthy()
    }
    const sid = one.getSnapshot().sessionId!
    expect(two.getSnapshot().sessionId).toBe(sid)

    // Sign out through the hook in tab 1.
    await act(async () => {
      fireEvent.click(tab1.getByText('sign out'))
      await expect.poll(() => two.getSnapshot().status).toBe('signed-out')
    })
    await flush()
    expect(heard).toContain('two:signed-out')
    expect(tab1.getByTestId('session').textContent).toBe('signed-out:sign_out')
    expect(tab2.getByTestId('session').textContent).toBe('signed-out:other_tab')
    for (const t of [tab1, tab2]) {
      expect(t.getByTestId('auth').textContent).toBe('true:false:-')
      expect(t.getByText('out')).toBeTruthy()
      expect(t.queryByText('in')).toBeNull()
    }
    expect(await storedSession(storage)).toBeNull()
    // The revocation of tab 1's sign-out ended the session at the server.
    await expect.poll(async () => (await sessionRow(sid)).state).toBe('revoked')
    expect((await sessionRow(sid)).reason).toBe('token_revocation')
  })
})

describe('401 storm', () => {
  it('SDK-01 ten components whose requests all get a 401 make exactly one refresh (counted at the server)', async () => {
    const clock = new ShiftedClock()
    const { client, counting, storage } = clientFor(s, { clock, autoRefresh: false })
    clients.push(client)
    await signIn(s, client)
    const old = await client.getToken({ audience: s.api.url })
    const before = await sessionRow(sessionIdOf((await storedSession(storage)).refreshToken))
    // The API refuses the token it issued (as after a key rotation): every request gets 401.
    s.api.rejected.add(old)
    const refreshesBefore = counting.refreshes().length
    const requestsBefore = s.api.requests.length

    function Orders({ n }: { n: number }) {
      const fetch = useAuthenticatedFetch()
      const [result, setResult] = useState('…')
      useEffect(() => {
        void fetch(`${s.api.url}/orders/${n}`).then(
          async (r) => setResult(`${r.status}:${((await r.json()) as { sub: string }).sub}`),
          (e: Error) => setResult(`error ${e.message}`),
        )
      }, [fetch, n])
      return <li data-testid="order">{result}</li>
    }
    render(
      <TesseraProvider client={client}>
        <ul>
          {Array.from({ length: 10 }, (_, n) => (
            <Orders key={n} n={n} />
          ))}
        </ul>
      </TesseraProvider>,
    )
    await waitFor(
      () =>
        expect(screen.getAllByTestId('order').map((e) => e.textContent)).toEqual(
          Array.from({ length: 10 }, () => `200:${s.alice.id}`),
        ),
      { timeout: 10_000 },
    )
    const sent = s.api.requests.slice(requestsBefore)
    // All ten went out with the old token and got the 401 (the storm happened), then were replayed.
    expect(sent.filter((r) => r.authorization === `Bearer ${old}`)).toHaveLength(10)
    const fresh = sent.filter((r) => r.authorization !== `Bearer ${old}`)
    expect(fresh).toHaveLength(10)
    expect(new Set(fresh.map((r) => r.authorization)).size).toBe(1)
    expect(counting.refreshes().length - refreshesBefore).toBe(1)
    const after = await sessionRow(before.id)
    expect(after.generation).toBe(before.generation + 1)
    expect(after.graceUses).toBe(before.graceUses)
  })
})

describe('useAuth', () => {
  it('isSignedIn is undefined until loaded and never false early; user and sessionId follow the session', async () => {
    const { client } = clientFor(s)
    clients.push(client)
    const seen: string[] = []
    function Probe() {
      const a = useAuth()
      seen.push(`${a.isLoaded}:${String(a.isSignedIn)}`)
      return null
    }
    render(
      <TesseraProvider client={client}>
        <Probe />
      </TesseraProvider>,
    )
    expect(seen[0]).toBe('false:undefined')
    await act(async () => {
      await client.whenLoaded()
    })
    await act(async () => {
      await signIn(s, client)
    })
    const firstFalse = seen.indexOf('true:false')
    expect(firstFalse).toBeGreaterThan(0)
    expect(seen.slice(0, firstFalse).every((x) => x === 'false:undefined')).toBe(true)
    expect(seen.at(-1)).toBe('true:true')
  })

  it('re-renders once per session change, not on token refreshes; its functions keep their identity', async () => {
    const clock = new ShiftedClock()
    const { client } = clientFor(s, { clock, autoRefresh: false })
    clients.push(client)
    await act(async () => {
      await client.whenLoaded()
    })
    const results: UseAuthResult[] = []
    function Probe() {
      results.push(useAuth())
      return null
    }
    render(
      <TesseraProvider client={client}>
        <Probe />
      </TesseraProvider>,
    )
    expect(results).toHaveLength(1)
    const snapshots: unknown[] = []
    const stop = client.subscribe(() => snapshots.push(client.getSnapshot()))
    await act(async () => {
      await signIn(s, client)
    })
    // Sign-in: the client went through several states (pending, signed-in); one re-render shows
    // the new session, and at most one per state the hook exposes.
    const afterSignIn = results.length
    expect(results.at(-1)!.isSignedIn).toBe(true)
    expect(afterSignIn).toBe(2)
    // Refreshes: the snapshot changes (refreshing, then signed-in with a new user object), the
    // claims do not: no re-render.
    const changes = snapshots.length
    for (let i = 0; i < 3; i++) {
      clock.offset += 16 * 60_000
      s.t.clock.advance(16 * 60_000)
      await act(async () => {
        await client.getToken({ audience: API_A })
      })
    }
    expect(snapshots.length).toBeGreaterThan(changes)
    expect(results).toHaveLength(afterSignIn)
    // The client's `user` is a new object with a new `iat` after each refresh; the hook's is not.
    const user = results.at(-1)!.user!
    expect(user.sub).toBe(s.alice.id)
    expect(user).not.toHaveProperty('iat')
    expect(user).not.toHaveProperty('exp')
    expect(client.getSnapshot().user).toHaveProperty('iat')
    // Sign-out: one more.
    await act(async () => {
      await client.signOut()
    })
    stop()
    expect(results).toHaveLength(afterSignIn + 1)
    expect(results.at(-1)!.isSignedIn).toBe(false)
    const [a, b, c] = results
    for (const r of [b!, c!]) {
      expect(r.getToken).toBe(a!.getToken)
      expect(r.signIn).toBe(a!.signIn)
      expect(r.signOut).toBe(a!.signOut)
    }
  })

  it('getToken through the hook returns the client’s token for the audience', async () => {
    const { client } = clientFor(s)
    clients.push(client)
    await signIn(s, client)
    let auth: UseAuthResult | undefined
    function Probe() {
      auth = useAuth()
      return null
    }
    render(
      <TesseraProvider client={client}>
        <Probe />
      </TesseraProvider>,
    )
    await flush()
    const token = await auth!.getToken({ audience: API_A })
    expect(token).toBe(await client.getToken({ audience: API_A }))
    const [, payload] = token.split('.')
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString()).aud).toBe(API_A)
  })

  it('outside a provider: missing_provider with a message that names the hook', () => {
    function Probe() {
      useAuth()
      return null
    }
    const errors: unknown[] = []
    const onError = (e: ErrorEvent) => {
      errors.push(e.error)
      e.preventDefault()
    }
    window.addEventListener('error', onError)
    try {
      expect(() => render(<Probe />)).toThrow('useAuth must be used inside <TesseraProvider>')
    } finally {
      window.removeEventListener('error', onError)
    }
    let caught: unknown
    try {
      render(<Probe />)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(TesseraReactError)
    expect((caught as TesseraReactError).code).toBe('missing_provider')
  })

  it('useProvidedClient: the provider’s client inside one, undefined (no throw) outside', () => {
    const { client } = clientFor(s)
    const seen: (TesseraClient | undefined)[] = []
    function Probe() {
      seen.push(useProvidedClient())
      return null
    }
    render(<Probe />)
    render(
      <TesseraProvider client={client}>
        <Probe />
      </TesseraProvider>,
    )
    expect(seen).toEqual([undefined, client])
  })
})

describe('useApi', () => {
  it('fetch carries the API’s token; a URL of another API or of none is refused with wrong_audience before any request', async () => {
    const { client, counting } = clientFor(s)
    clients.push(client)
    await signIn(s, client)
    let api: ReturnType<typeof useApi> | undefined
    function Probe() {
      api = useApi(s.api.url)
      return null
    }
    render(
      <TesseraProvider client={client}>
        <Probe />
      </TesseraProvider>,
    )
    await flush()
    const res = await api!.fetch(`${s.api.url}/orders`)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { aud: string }).aud).toBe(s.api.url)
    const urls = counting.urls.length
    for (const [url, message] of [
      [`${API_A}/x`, `useApi: the URL belongs to the API ${API_A}, not to ${s.api.url}`],
      [
        'https://elsewhere.example.test/x',
        `useApi: the URL belongs to no configured API, not to ${s.api.url}`,
      ],
    ] as const) {
      const err = await api!.fetch(url).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(TesseraReactError)
      expect((err as TesseraReactError).code).toBe('wrong_audience')
      expect((err as TesseraReactError).message).toBe(message)
    }
    expect(counting.urls.length).toBe(urls)
    const token = await api!.getToken()
    expect(token).toBe(await client.getToken({ audience: s.api.url }))
  })
})
