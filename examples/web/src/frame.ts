/**
 * A micro frontend. It never signs in: it asks the shell for an access token for its own API
 * (`frame.fetch` does it) and follows the shell's session.
 */
import { createFrameClient, isBridgeError } from '@tessera/bridge'
import { apiBase, pageConfig } from './config.js'

const demo = pageConfig()
const me = demo.frames.find((f) => f.origin === location.origin)!
document.querySelector('h2')!.textContent = me.title
const out = document.querySelector<HTMLElement>('#answer')!

const frame = createFrameClient({
  shellOrigin: demo.shell,
  apis: [{ baseUrl: apiBase(me), audience: me.audience }],
})

async function load() {
  const res = await frame.fetch(apiBase(me) + '/summary')
  out.textContent = res.ok
    ? JSON.stringify(await res.json(), null, 2)
    : `${res.status} ${res.headers.get('www-authenticate') ?? ''}`
}

let signedIn = false
function render() {
  const s = frame.getSnapshot()
  document.body.dataset.status = s.status
  if (s.isSignedIn && !signedIn) {
    load().catch((err: unknown) => {
      out.textContent = isBridgeError(err) ? `Bridge: ${err.code}` : String(err)
    })
  } else if (s.status === 'signed-out') {
    out.textContent = 'Signed out: sign in in the shell.'
  }
  signedIn = s.isSignedIn
}
frame.subscribe(render)
frame.connect().catch((err: unknown) => {
  out.textContent = isBridgeError(err) ? `Not inside the shell (${err.code})` : String(err)
})
