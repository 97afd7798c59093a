import { createRoot } from 'react-dom/client'
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
} from '@tessera/client'
import { AuthLoading, SignedIn, SignedOut, TesseraProvider, useAuth } from '@tessera/react'

// One client for the app, made outside React.
const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'web-app',
  redirectUri: location.origin + '/callback',
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage: indexedDbStorage(),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

if (client.isRedirectCallback(location.href)) {
  const { returnTo } = await client.handleRedirectCallback()
  history.replaceState(null, '', returnTo ?? '/')
}

function Account() {
  const { user, signIn, signOut } = useAuth()
  return (
    <>
      <AuthLoading>
        <p>Loading…</p>
      </AuthLoading>
      <SignedIn>
        <p>Signed in as {user?.name ?? user?.sub}</p>
        <button onClick={() => void signOut()}>Sign out</button>
      </SignedIn>
      <SignedOut>
        <button onClick={() => void signIn({ returnTo: location.pathname })}>Sign in</button>
      </SignedOut>
    </>
  )
}

createRoot(document.getElementById('root')!).render(
  <TesseraProvider client={client}>
    <Account />
  </TesseraProvider>,
)
