// @vitest-environment tessera-dom
/**
 * APP-15: the route guard on first render, before the session is loaded. A real client reads
 * its storage (held by a gate, so `loading` lasts as long as the test needs) and talks to a real
 * Tessera server on loopback; the user signs in through the hosted form over HTTP. The guard
 * must render the fallback, never the protected content, and never redirect, until the client
 * is loaded; then it renders the content or redirects exactly once.
 */
import { StrictMode, type ReactNode } from 'react'
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { memoryStorage, type TesseraClient } from '@tessera/client'
import { clientFor, signIn, startTessera, type Tessera } from '../../client/test/helpers/tessera.js'
import { Protect, TesseraProvider, useAuth, useSession } from '../src/index.js'
import { ManualClock } from '../../client/test/helpers/clocks.js'
import { GatedStorage } from './helpers/gated-storage.js'

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

/** Storage holding a signed-in session of alice. */
async function signedInStorage() {
  const storage = memoryStorage()
  const { client } = clientFor(s, { storage })
  await signIn(s, client)
  client.dispose()
  return storage
}

/** Every render of the protected content, with the client's status at that moment. */
function protectedPage(seen: string[], client: TesseraClient): ReactNode {
  function Orders() {
    seen.push(client.getSnapshot().status)
    return <p>orders of {useAuth().user?.sub}</p>
  }
  return <Orders />
}

function Status() {
  const { status } = useSession()
  return <p data-testid="status">{status}</p>
}

/** Lets the client's storage read and every job it starts run to the end. */
async function settle(client: TesseraClient) {
  await act(async () => {
    await client.whenLoaded()
    await new Promise((r) => setTimeout(r, 0))
  })
}

describe('APP-15 route guard before the session is loaded', () => {
  it('APP-15 a stored session: the fallback until loaded, no redirect, then the content (never a flash of either)', async () => {
    const gated = new GatedStorage(await signedInStorage())
    const navigations: string[] = []
    const { client } = clientFor(s, { storage: gated, navigate: (u) => navigations.push(u) })
    clients.push(client)
    const routes: string[] = []
    const seen: string[] = []
    render(
      <TesseraProvider client={client}>
        <Status />
        <Protect
          fallback={<p>splash</p>}
          navigate={(to) => routes.push(to)}
          signInRoute="/sign-in"
          returnTo="/orders"
        >
          {protectedPage(seen, client)}
        </Protect>
      </TesseraProvider>,
    )
    // The client is waiting on its storage read: still loading, by construction.
    expect(gated.reads).toBe(1)
    await act(async () => new Promise((r) => setTimeout(r, 20)))
    expect(screen.getByTestId('status').textContent).toBe('loading')
    expect(screen.getByText('splash')).toBeTruthy()
    expect(screen.queryByText(/orders of/)).toBeNull()
    expect(seen).toEqual([])
    expect(routes).toEqual([])
    expect(navigations).toEqual([])

    gated.open()
    await settle(client)
    expect(screen.getByText(`orders of ${s.alice.id}`)).toBeTruthy()
    expect(screen.queryByText('splash')).toBeNull()
    expect(seen.length).toBeGreaterThan(0)
    expect(new Set(seen)).toEqual(new Set(['signed-in']))
    expect(routes).toEqual([])
    expect(navigations).toEqual([])
  })

  it('APP-15 no session: the fallback until loaded, no redirect before load, then exactly one redirect to the sign-in route with returnTo (StrictMode)', async () => {
    const gated = new GatedStorage(memoryStorage())
    const { client } = clientFor(s, { storage: gated })
    clients.push(client)
    const routes: string[] = []
    const seen: string[] = []
    render(
      <StrictMode>
        <TesseraProvider client={client}>
          <Status />
          <Protect
            fallback={<p>splash</p>}
            navigate={(to) => routes.push(to)}
            signInRoute="/sign-in"
            returnTo="/orders?tab=open"
          >
            {protectedPage(seen, client)}
          </Protect>
        </TesseraProvider>
      </StrictMode>,
    )
    expect(gated.reads).toBe(1)
    await act(async () => new Promise((r) => setTimeout(r, 20)))
    expect(screen.getByTestId('status').textContent).toBe('loading')
    expect(screen.getByText('splash')).toBeTruthy()
    expect(routes).toEqual([])

    gated.open()
    await settle(client)
    expect(screen.getByTestId('status').textContent).toBe('signed-out')
    expect(routes).toEqual(['/sign-in?returnTo=%2Forders%3Ftab%3Dopen'])
    expect(screen.getByText('splash')).toBeTruthy()
    expect(seen).toEqual([])
  })

  it('APP-15 no session, hosted sign-in: one authorization request after load, carrying returnTo; the sign-in under way is not started twice', async () => {
    const gated = new GatedStorage(memoryStorage())
    const navigations: string[] = []
    const { client, storage } = clientFor(s, {
      storage: gated,
      navigate: (u) => navigations.push(u),
    })
    clients.push(client)
    const seen: string[] = []
    const tree = (
      <StrictMode>
        <TesseraProvider client={client}>
          <Protect fallback={<p>splash</p>} returnTo="/orders">
            {protectedPage(seen, client)}
          </Protect>
          <Protect fallback={<p>splash 2</p>} returnTo="/orders">
            <p>second guard</p>
          </Protect>
        </TesseraProvider>
      </StrictMode>
    )
    render(tree)
    await act(async () => new Promise((r) => setTimeout(r, 20)))
    expect(navigations).toEqual([])

    gated.open()
    await settle(client)
    await act(async () => {
      await expect.poll(() => navigations.length).toBeGreaterThan(0)
      await new Promise((r) => setTimeout(r, 20))
    })
    // Both guards asked for sign-in in the same commit (and StrictMode ran their effects twice):
    // one sign-in, and once it is under way (`pending`) nothing starts another.
    expect(client.getSnapshot().status).toBe('pending')
    expect(navigations).toHaveLength(1)
    const urls = navigations.map((u) => new URL(u))
    expect(urls.every((u) => u.origin === s.t.url && u.pathname === '/authorize')).toBe(true)
    const txs = JSON.parse((await storage.get('tessera.web-app.transactions'))!)
    expect(Object.keys(txs)).toHaveLength(navigations.length)
    for (const tx of Object.values(txs))
      expect((tx as { returnTo: string }).returnTo).toBe('/orders')
    expect(seen).toEqual([])
    expect(screen.queryByText('second guard')).toBeNull()
  })
})

describe('idle lock', () => {
  it('a session locked by the idle timeout renders the locked element, never the protected content; unlock() shows it again', async () => {
    const clock = new ManualClock(Date.now())
    const { client } = clientFor(s, { clock, idleTimeout: { seconds: 60, action: 'lock' } })
    clients.push(client)
    await signIn(s, client)
    const seen: string[] = []
    render(
      <TesseraProvider client={client}>
        <Protect fallback={<p>splash</p>} locked={<p>unlock screen</p>} returnTo="/orders">
          {protectedPage(seen, client)}
        </Protect>
      </TesseraProvider>,
    )
    expect(screen.getByText(`orders of ${s.alice.id}`)).toBeTruthy()
    await act(async () => {
      await clock.advance(61_000)
    })
    expect(client.getSnapshot().locked).toBe(true)
    expect(screen.getByText('unlock screen')).toBeTruthy()
    expect(screen.queryByText(/orders of/)).toBeNull()
    const renders = seen.length
    act(() => client.unlock())
    expect(screen.getByText(`orders of ${s.alice.id}`)).toBeTruthy()
    expect(seen.length).toBe(renders + 1)
  })
})
