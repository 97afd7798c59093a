// What a React Native (Hermes) app compiles: no DOM and no Node types (tsconfig.mobile.json:
// `lib: ["es2022"]`, `types: []`, `skipLibCheck: false`). Everything platform-specific is injected
// through the client's own structural types.
import {
  createTesseraClient,
  memoryStorage,
  type CryptoProvider,
  type FetchLike,
  type Lifecycle,
  type SessionSnapshot,
  type TesseraClient,
} from '@tessera/client'

export function mobileClient(
  fetch: FetchLike,
  crypto: CryptoProvider,
  lifecycle: Lifecycle,
): TesseraClient {
  return createTesseraClient({
    issuer: 'https://auth.example.com',
    clientId: 'mobile-app',
    redirectUri: 'com.example.app:/callback',
    apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
    storage: memoryStorage(),
    fetch,
    crypto,
    lifecycle,
  })
}

export function isSignedIn(s: SessionSnapshot): boolean {
  return s.isSignedIn
}
