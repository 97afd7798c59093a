// @vitest-environment tessera-dom
/**
 * Server rendering and hydration. The server render reads no client state (`isLoaded: false`,
 * no storage access, no user in the HTML, even when the server's client holds a session), and
 * hydration in the browser matches that HTML whatever the browser's client already knows; the
 * session shows right after. A real client and a real Tessera server on loopback.
 */
import { act, type ReactNode } from 'react'
import { renderToString } from 'react-dom/server'
import { hydrateRoot } from 'react-dom/client'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { memoryStorage, type TesseraClient } from '@tessera/client'
import { clientFor, signIn, startTessera, type Tessera } from '../../client/test/helpers/tessera.js'
import {
  AuthLoading,
  Protect,
  SignedIn,
  SignedOut,
  TesseraProvider,
  useAuth,
} from '../src/index.js'
import { GatedStorage } from './helpers/gated-storage.js'

let s: Tessera
const clients: TesseraClient[] = []

beforeAll(async () => {
  s = await startTessera()
  ;(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true
})
afterEach(() => {
  for (const c of clients.splice(0)) c.dispose()
  document.body.innerHTML = ''
})
afterAll(async () => {
  await s.close()
})

function Name() {
  const { user } = useAuth()
  return <b>{user?.sub}</b>
}

function App({ client }: { client: TesseraClient }): ReactNode {
  return (
    <TesseraProvider client={client}>
      <AuthLoading>
        <p>splash</p>
      </AuthLoading>
      <SignedIn>
        <p>
          hello <Name />
        </p>
      </SignedIn>
      <SignedOut>
        <p>please sign in</p>
      </SignedOut>
      <Protect fallback={<i>guarded</i>} navigate={() => {}} signInRoute="/sign-in">
        <p>protected</p>
      </Protect>
    </TesseraProvider>
  )
}

/** A client holding alice's session, loaded; its storage counts every call. */
async function signedInClient() {
  const storage = memoryStorage()
  const first = clientFor(s, { storage }).client
  await signIn(s, first)
  first.dispose()
  const gated = new GatedStorage(storage)
  gated.open()
  const { client } = clientFor(s, { storage: gated })
  clients.push(client)
  await client.whenLoaded()
  expect(client.getSnapshot().isSignedIn).toBe(true)
  return { client, storage: gated }
}

describe('server rendering', () => {
  it('the server render is isLoaded false with no storage access and no user, even from a signed-in client', async () => {
    const { client, storage } = await signedInClient()
    const calls = storage.calls
    const html = renderToString(<App client={client} />)
    expect(storage.calls).toBe(calls)
    expect(html).toContain('splash')
    expect(html).toContain('guarded')
    expect(html).not.toContain(s.alice.id)
    expect(html).not.toContain('protected')
    expect(html).not.toContain('please sign in')
  })

  it('hydration of the server HTML by a browser client that already has the session: no mismatch, then the session shows', async () => {
    // The server: a client that never loaded anything (its storage is never opened).
    const server = clientFor(s, { storage: new GatedStorage(memoryStorage()) }).client
    clients.push(server)
    const html = renderToString(<App client={server} />)
    // The browser: a client loaded and signed in before React hydrates.
    const { client } = await signedInClient()
    const container = document.createElement('div')
    container.innerHTML = html
    document.body.appendChild(container)
    const recoverable: unknown[] = []
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      await act(async () => {
        hydrateRoot(container, <App client={client} />, {
          onRecoverableError: (e) => recoverable.push(e),
        })
        await new Promise((r) => setTimeout(r, 0))
      })
      expect(recoverable).toEqual([])
      expect(consoleError.mock.calls).toEqual([])
    } finally {
      consoleError.mockRestore()
    }
    expect(container.textContent).toContain(`hello ${s.alice.id}`)
    expect(container.textContent).toContain('protected')
    expect(container.textContent).not.toContain('splash')
  })
})
