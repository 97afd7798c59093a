/**
 * A browser app whose refresh token lives in Tessera's HttpOnly cookie (README "Refresh token in
 * an HttpOnly cookie"). The app is at https://app.example.com, Tessera at
 * https://auth.example.com (same site), and the server registers the client with
 * `refreshTokenDelivery: 'cookie'` and `webOrigins: ['https://app.example.com']`.
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
  redirectUri: 'https://app.example.com/callback',
  apis: [
    { baseUrl: 'https://api.example.com', audience: 'https://api.example.com', scope: 'read' },
  ],
  // The refresh token never reaches this page: the browser sends Tessera's cookie.
  refreshTokenDelivery: 'cookie',
  // Access and ID tokens only; shared by the tabs, which share the one cookie.
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
  if (!session.isSignedIn) await client.signIn()
  else await client.fetch('https://api.example.com/orders')
}

/** Sign-out revokes the session and clears the cookie (Tessera's revocation endpoint). */
export async function signOut(): Promise<void> {
  await client.signOut()
}
