/**
 * The shell: the only page that signs in and the only holder of the refresh token. It shows the
 * three micro frontends in iframes and lends each of them access tokens for its own API through
 * the bridge.
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
} from '@tessera/client'
import { createShellBridge } from '@tessera/bridge'
import { apiBase, pageConfig } from './config.js'

const demo = pageConfig()

const client = createTesseraClient({
  issuer: demo.issuer,
  clientId: demo.clientId,
  redirectUri: demo.shell + '/callback',
  apis: demo.frames.map((f) => ({ baseUrl: apiBase(f), audience: f.audience })),
  storage: indexedDbStorage(),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

// Each frame origin may ask for its own API's tokens, and nothing else.
createShellBridge({
  client,
  frames: Object.fromEntries(demo.frames.map((f) => [f.origin, { audiences: [f.audience] }])),
})

const status = document.querySelector<HTMLElement>('#status')!
const signIn = document.querySelector<HTMLButtonElement>('#sign-in')!
const signOut = document.querySelector<HTMLButtonElement>('#sign-out')!

function render() {
  const s = client.getSnapshot()
  status.textContent = s.isSignedIn
    ? `Signed in as ${typeof s.user?.name === 'string' ? s.user.name : (s.user?.sub ?? '')}`
    : s.isLoaded
      ? 'Signed out'
      : 'Loading…'
  signIn.hidden = !s.isLoaded || s.isSignedIn
  signOut.hidden = !s.isSignedIn
}
client.subscribe(render)
render()

signIn.onclick = () => void client.signIn({ returnTo: '/' })
// Local first (every frame hears it at once), then the refresh token is revoked at Tessera.
signOut.onclick = () => void client.signOut({ navigate: false })

for (const f of demo.frames) {
  const frame = document.createElement('iframe')
  frame.name = f.name
  frame.title = f.title
  frame.src = f.origin + '/'
  document.querySelector('#frames')!.append(frame)
}

if (client.isRedirectCallback(location.href)) {
  client.handleRedirectCallback().then(
    ({ returnTo }) => history.replaceState(null, '', returnTo ?? '/'),
    (err: Error) => (status.textContent = `Sign-in failed: ${err.message}`),
  )
}
