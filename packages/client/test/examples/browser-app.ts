/**
 * The smallest browser app (README "Browser"): sign in, call an API, show the user, sign out.
 * Type-checked with the tests; not run.
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
} from '../../src/index.js'

export const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'web-app',
  redirectUri: location.origin + '/callback',
  apis: [
    { baseUrl: 'https://api.example.com', audience: 'https://api.example.com', scope: 'read' },
  ],
  storage: indexedDbStorage(),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

export async function main(): Promise<void> {
  if (client.isRedirectCallback(location.href)) {
    const { returnTo } = await client.handleRedirectCallback()
    history.replaceState(null, '', returnTo ?? '/')
  }
  const session = await client.whenLoaded()
  if (!session.isSignedIn) {
    document.body.textContent = 'Signed out'
    document.body.onclick = () => void client.signIn()
    return
  }
  const res = await client.fetch('https://api.example.com/orders')
  document.body.textContent = `Hello ${String(session.user?.name)}: ${res.status}`
  client.subscribe(() => {
    if (client.getSnapshot().status === 'signed-out') location.assign('/')
  })
}
