/**
 * A React Native-like consumer: no DOM library, no @types/node. Everything the client needs from
 * the platform is passed in or typed structurally; this file must compile against dist/*.d.ts
 * with skipLibCheck false.
 */
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type CryptoProvider,
  type FetchLike,
  type Lifecycle,
  type LifecycleEvent,
  type SessionSnapshot,
} from '@tessera/client'

declare const nativeFetch: FetchLike
declare const nativeCrypto: CryptoProvider

const listeners = new Set<(e: LifecycleEvent) => void>()
const appState: Lifecycle = {
  subscribe(l) {
    listeners.add(l)
    return () => listeners.delete(l)
  },
  isForeground: () => true,
}

const client = createTesseraClient({
  issuer: 'https://auth.example.com',
  clientId: 'mobile-app',
  redirectUri: 'com.example.app:/callback',
  apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
  storage: memoryStorage(),
  lifecycle: appState,
  crypto: nativeCrypto,
  // A wrapper written against the structural types.
  fetch: (input, init) => nativeFetch(input, init),
})

export async function run(): Promise<number> {
  const snapshot: SessionSnapshot = await client.whenLoaded()
  if (!snapshot.isSignedIn) {
    const url = await client.signIn({ navigate: false })
    const href: string = url.href
    await client.handleRedirectCallback(href)
  }
  try {
    await client.getToken({ audience: 'https://api.example.com' })
  } catch (err) {
    if (err instanceof TesseraClientError && err.code === 'network') return -1
    throw err
  }
  const res = await client.fetch('https://api.example.com/orders')
  const { endSessionUrl } = await client.signOut()
  return res.status + (endSessionUrl ? 1 : 0)
}
