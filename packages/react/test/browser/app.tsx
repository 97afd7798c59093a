/**
 * A small React app as a user would build it, bundled with esbuild for the Chromium test: the
 * browser adapters (IndexedDB, Web Locks + BroadcastChannel, browser lifecycle), a public page,
 * a guarded `/orders` page that calls an API, the callback route, and sign-out. The router is
 * ten lines of `history`, to show that `<Protect>` needs none in particular. Every render of the
 * guarded content and of its fallback is reported to the test (`window.__record`).
 */
import { useEffect, useState, useSyncExternalStore } from 'react'
import { createRoot } from 'react-dom/client'
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
} from '@tessera/client'
import {
  AuthLoading,
  Protect,
  SignedIn,
  SignedOut,
  TesseraProvider,
  useAuth,
  useSession,
  useTesseraClient,
} from '../../src/index.js'

declare global {
  interface Window {
    __CONFIG: { issuer: string; clientId: string; api: string }
    __record?: (event: string) => void
  }
}

const cfg = window.__CONFIG
const record = (e: string) => window.__record?.(e)

const client = createTesseraClient({
  issuer: cfg.issuer,
  clientId: cfg.clientId,
  redirectUri: location.origin + '/callback',
  postLogoutRedirectUri: location.origin + '/signed-out',
  apis: [{ baseUrl: cfg.api, audience: cfg.api, scope: 'orders' }],
  storage: indexedDbStorage(),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

const listeners = new Set<() => void>()
const router = {
  subscribe: (l: () => void) => {
    listeners.add(l)
    window.addEventListener('popstate', l)
    return () => {
      listeners.delete(l)
      window.removeEventListener('popstate', l)
    }
  },
  path: () => location.pathname + location.search,
  replace: (to: string) => {
    history.replaceState(null, '', to)
    for (const l of listeners) l()
  },
}

function Callback() {
  const tessera = useTesseraClient()
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    tessera.handleRedirectCallback(location.href).then(
      ({ returnTo }) => router.replace(returnTo ?? '/'),
      (e: Error) => setError(e.message),
    )
  }, [tessera])
  return <p id="callback">{error ?? 'signing in…'}</p>
}

function Fallback() {
  const { status } = useSession()
  record(`fallback:${status}`)
  return <p id="loading">loading…</p>
}

function Orders() {
  const { user, getToken } = useAuth()
  const { status } = useSession()
  const tessera = useTesseraClient()
  const [orders, setOrders] = useState('…')
  record(`protected:${status}`)
  useEffect(() => {
    void tessera.fetch(`${cfg.api}/orders`).then(
      async (r) => setOrders(`${r.status} ${((await r.json()) as { aud: string }).aud}`),
      (e: Error) => setOrders(`error ${e.message}`),
    )
  }, [tessera, getToken])
  return (
    <div id="protected">
      <p id="user">{user?.sub}</p>
      <p id="orders">{orders}</p>
    </div>
  )
}

function Home() {
  const { user, signIn, signOut } = useAuth()
  return (
    <div>
      <AuthLoading>
        <p id="home-loading">loading…</p>
      </AuthLoading>
      <SignedIn>
        <p id="home-in">signed in as {user?.sub}</p>
        <button id="sign-out" onClick={() => void signOut()}>
          Sign out
        </button>
      </SignedIn>
      <SignedOut>
        <p id="home-out">signed out</p>
        <button id="sign-in" onClick={() => void signIn({ returnTo: '/' })}>
          Sign in
        </button>
      </SignedOut>
    </div>
  )
}

function App() {
  const path = useSyncExternalStore(router.subscribe, router.path)
  if (path.startsWith('/callback')) return <Callback />
  if (path.startsWith('/orders')) {
    return (
      <Protect fallback={<Fallback />} returnTo={path}>
        <Orders />
      </Protect>
    )
  }
  return <Home />
}

createRoot(document.getElementById('root')!).render(
  <TesseraProvider client={client}>
    <App />
  </TesseraProvider>,
)
