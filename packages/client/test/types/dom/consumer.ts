/**
 * A browser consumer with the DOM library: the public signatures take and give the real DOM types
 * (fetch, Request, Response, URL, Web Locks, BroadcastChannel, localStorage, IndexedDB, Web
 * Crypto, window and document), without casts.
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
  webCrypto,
  type FetchLike,
} from '@tessera/client'

const platformFetch: FetchLike = window.fetch.bind(window)

const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'web-app',
  redirectUri: location.origin + '/callback',
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage: indexedDbStorage({ indexedDB: window.indexedDB }),
  tabs: browserTabSync({
    environment: {
      locks: navigator.locks,
      BroadcastChannel: window.BroadcastChannel,
      localStorage: window.localStorage,
      addEventListener: window.addEventListener.bind(window),
      removeEventListener: window.removeEventListener.bind(window),
    },
  }),
  lifecycle: browserLifecycle({ window, document }),
  crypto: webCrypto(window.crypto),
  fetch: (input, init) => fetch(input, init),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

export async function run(): Promise<void> {
  void platformFetch
  if (client.isRedirectCallback(new URL(location.href))) {
    await client.handleRedirectCallback(new URL(location.href))
  }
  const url: URL = await client.signIn({ navigate: false })
  url.searchParams.get('state')
  const res: Response = await client.fetch(new Request('https://api.example.com/orders'), {
    method: 'GET',
    headers: new Headers({ accept: 'application/json' }),
  })
  const body: unknown = await res.json()
  void body
  const { endSessionUrl } = await client.signOut()
  const end: URL | undefined = endSessionUrl
  void end
}
