/**
 * The Tessera client on the web (the web export, react-native-web): the browser's own storage
 * (IndexedDB), tab sync, lifecycle and a full-page redirect to the hosted sign-in, back to
 * `/callback` on this origin. No biometrics on the web: the gate is null and the unlock screen
 * says so. The native build uses `tessera.native.ts` instead (Metro picks it by extension).
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
} from '@tessera/client'
import type { TesseraApp } from './app-types'
import { APIS, CLIENT_ID, ISSUER } from './config'

const origin = typeof location === 'undefined' ? 'http://localhost:8081' : location.origin

export const client = createTesseraClient({
  issuer: ISSUER,
  clientId: CLIENT_ID,
  redirectUri: origin + '/callback',
  // Sign-out also ends the browser's session at Tessera (its end-session page), then comes back.
  postLogoutRedirectUri: origin + '/',
  apis: [APIS.orders, APIS.billing],
  storage: indexedDbStorage(),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

export const app: TesseraApp = {
  platform: 'web',
  client,
  gate: null,
  async signIn(returnTo) {
    // A full-page redirect: the page unloads, and /callback finishes the sign-in.
    await client.signIn({ returnTo })
    return 'redirected'
  },
  async finishRedirect() {
    if (!client.isRedirectCallback(location.href)) return null
    const { returnTo } = await client.handleRedirectCallback()
    return returnTo ?? null
  },
  activity: () => {},
}
