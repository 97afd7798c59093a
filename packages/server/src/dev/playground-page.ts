import { escapeHtml } from '../http/app.js'

/** What the playground page needs to know about the server and the demo client. */
export interface PlaygroundSettings {
  issuer: string
  clientId: string
  redirectUri: string
  postLogoutRedirectUri: string
  scope: string
  apis: { audience: string; name: string; scopes: string[] }[]
  paths: {
    authorize: string
    token: string
    revoke: string
    userinfo: string
    endSession: string
    session: string
    callback: string
  }
}

/** JSON safe to embed in a `<script type="application/json">` element. */
function embedJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}

/** Where the page loads its script and the client from (served by `playgroundRoutes`). */
export const PLAYGROUND_ASSET_PATHS = {
  client: '/playground/tessera-client.js',
  app: '/playground/app.js',
} as const

/**
 * The playground: one HTML page whose script is a small app on `@tessera/client` (the built
 * client, served as an ES module by the dev server; an import map gives it its package name). The
 * page loads nothing from elsewhere: scripts only from this origin or with the per-response CSP
 * nonce. The client signs in with PKCE S256, checks `state` and `iss` on the callback (RFC 9207),
 * and keeps its session in IndexedDB, as the client README recommends for browsers.
 */
export function playgroundPage(settings: PlaygroundSettings, nonce: string): string {
  const n = escapeHtml(nonce)
  const importMap = { imports: { '@tessera/client': PLAYGROUND_ASSET_PATHS.client } }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tessera playground</title>
<style nonce="${n}">${STYLE}</style>
</head>
<body>
<header>
  <h1>Tessera playground</h1>
  <p class="muted">Development mode. Issuer <code>${escapeHtml(settings.issuer)}</code>, client
  <code>${escapeHtml(settings.clientId)}</code>. This page is an app on <code>@tessera/client</code>
  (<code>${PLAYGROUND_ASSET_PATHS.client}</code>); its session lives in this browser's IndexedDB.</p>
</header>
<main>
  <p id="status" role="status" aria-live="polite">Loading…</p>
  <p id="error" role="alert" hidden></p>
  <section id="signed-out" hidden>
    <p>Sign in to the demo client: <code>client.signIn()</code> (authorization code flow, PKCE S256).</p>
    <button id="sign-in" type="button">Sign in</button>
  </section>
  <section id="signed-in" hidden>
    <div class="actions">
      <span id="api-buttons"></span>
      <button id="call-userinfo" type="button">Call userinfo</button>
      <button id="sign-out" type="button">Sign out</button>
    </div>
    <h2>Session</h2>
    <dl id="session"></dl>
    <h2>Tokens</h2>
    <div id="tokens"></div>
    <h2>Userinfo</h2>
    <pre id="userinfo">Not called yet.</pre>
  </section>
  <div class="panels">
    <section>
      <h2>Client snapshot <span class="muted">(client.getSnapshot(), live)</span></h2>
      <pre id="snapshot"></pre>
    </section>
    <section>
      <h2>Client events <span class="muted">(client.onDiagnostic)</span></h2>
      <ol id="events" reversed></ol>
    </section>
  </div>
  <section>
    <h2>Requests</h2>
    <ol id="log"></ol>
  </section>
</main>
<script type="application/json" id="playground-settings">${embedJson(settings)}</script>
<script type="importmap" nonce="${n}">${embedJson(importMap)}</script>
<script type="module" nonce="${n}" src="${PLAYGROUND_ASSET_PATHS.app}"></script>
</body>
</html>
`
}

const STYLE = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.4; }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem; }
h1 { margin-bottom: 0.2rem; }
h2 { margin-top: 1.6rem; font-size: 1.15rem; }
.muted { color: GrayText; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.85rem; }
pre { background: color-mix(in srgb, CanvasText 6%, Canvas); padding: 0.6rem; border-radius: 6px;
  overflow-x: auto; margin: 0.3rem 0; white-space: pre-wrap; word-break: break-all; }
button { font: inherit; padding: 0.35rem 0.8rem; margin: 0 0.4rem 0.4rem 0; cursor: pointer; }
.actions { margin: 0.8rem 0; }
#error { color: #b00020; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; }
.token { border: 1px solid color-mix(in srgb, CanvasText 20%, Canvas); border-radius: 8px;
  padding: 0.6rem 0.9rem; margin-bottom: 0.8rem; }
.token h3 { margin: 0 0 0.3rem; font-size: 1rem; }
.grid { display: grid; grid-template-columns: 1fr 2fr; gap: 0.8rem; }
.expiry { font-weight: 600; }
.expired { color: #b00020; }
#log li, #events li { font-family: ui-monospace, monospace; font-size: 0.85rem; }
#events { max-height: 24rem; overflow-y: auto; }
.panels { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
`
