/**
 * The script of the `tessera dev` playground: a browser app built on `@tessera/client`, as a
 * newcomer's own app would be. The dev server serves it as a module next to the client's bundle
 * (`scripts/build-playground.ts`); an import map resolves `@tessera/client` to that bundle.
 *
 * Panels: the session as the server sees it, the decoded tokens, a token per demo API, the
 * client's snapshot and diagnostic events as they happen, and every request the client makes.
 * Tokens are only ever written with `textContent`; the refresh token is never shown (the client
 * keeps it in IndexedDB and offers no way to read it).
 */
import {
  browserLifecycle,
  browserTabSync,
  createTesseraClient,
  indexedDbStorage,
  TesseraClientError,
  type DiagnosticEvent,
} from '@tessera/client'

/** What `/playground/session` answers (or its error). */
interface SessionInfo {
  error?: string
  sid: string
  state: string
  reason: string | null
  scope: string
  resources: string[]
  createdAt: number
  lastActiveAt: number
  expiresAt: number
  idleExpiresAt: number
  generation: number
  now: number
}

interface Settings {
  issuer: string
  clientId: string
  redirectUri: string
  postLogoutRedirectUri: string
  scope: string
  apis: { audience: string; name: string; scopes: string[] }[]
  paths: { userinfo: string; session: string; callback: string }
}

const cfg = JSON.parse(byId('playground-settings').textContent ?? '{}') as Settings
const LOG_KEY = 'tessera.playground.log'
const EVENTS_MAX = 200
let skewMs = 0

function byId(id: string): HTMLElement {
  const e = document.getElementById(id)
  if (!e) throw new Error(`#${id} is missing from the page`)
  return e
}

function el(tag: string, props: Record<string, string> = {}, children: Node[] = []): HTMLElement {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v
    else if (k === 'class') e.className = v
    else e.setAttribute(k, v)
  }
  for (const c of children) e.appendChild(c)
  return e
}

function decodeJwt(jwt: string): { header: unknown; claims: Record<string, unknown> } {
  const part = (s: string | undefined): unknown => {
    if (s === undefined) throw new Error('not a JWT')
    const b64 = s
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(s.length / 4) * 4, '=')
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
    return JSON.parse(new TextDecoder().decode(bytes))
  }
  const [h, p, sig] = jwt.split('.')
  if (sig === undefined) throw new Error('not a JWT')
  return { header: part(h), claims: part(p) as Record<string, unknown> }
}

const fmtTime = (ms: number | null | undefined): string =>
  ms == null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z')

function fmtLeft(ms: number): string {
  if (ms <= 0) return 'expired'
  const s = Math.floor(ms / 1000)
  const d = Math.floor(s / 86400)
  const pad = (x: number): string => String(x).padStart(2, '0')
  const hms = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`
  return 'expires in ' + (d ? `${d}d ` : '') + hms
}

function tick(): void {
  document.querySelectorAll<HTMLElement>('[data-exp]').forEach((e) => {
    const left = Number(e.dataset.exp) - (Date.now() + skewMs)
    e.textContent = fmtLeft(left)
    e.classList.toggle('expired', left <= 0)
  })
}

// The request log survives the sign-in and sign-out redirects (sessionStorage: this tab only).
// It holds methods, paths, statuses and grant types, never a token or a code.
function logLines(): string[] {
  return JSON.parse(sessionStorage.getItem(LOG_KEY) ?? '[]') as string[]
}
function renderLog(): void {
  const ol = byId('log')
  ol.textContent = ''
  for (const line of logLines().reverse()) ol.appendChild(el('li', { text: line }))
}
function logRequest(line: string): void {
  const lines = [...logLines(), new Date().toISOString().slice(11, 19) + '  ' + line].slice(-100)
  sessionStorage.setItem(LOG_KEY, JSON.stringify(lines))
  renderLog()
}

function describeBody(body: unknown): string {
  const form =
    body instanceof URLSearchParams
      ? body
      : typeof body === 'string' && !body.startsWith('{')
        ? new URLSearchParams(body)
        : null
  if (!form) return ''
  return ['grant_type', 'resource', 'token_type_hint']
    .filter((k) => form.has(k))
    .map((k) => `${k}=${form.get(k)}`)
    .join(' ')
}

/** The client's fetch: the browser's, with each request written to the log. */
async function loggingFetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const req = new Request(input, init)
  const url = new URL(req.url)
  const where = url.origin === location.origin ? url.pathname : url.origin + url.pathname
  const note = describeBody(init?.body)
  let res: Response
  try {
    res = await fetch(input, init)
  } catch (err) {
    logRequest(`${req.method} ${where} -> failed${note ? '  ' + note : ''}`)
    throw err
  }
  let error = ''
  if (!res.ok && res.headers.get('content-type')?.includes('json')) {
    const body = (await res
      .clone()
      .json()
      .catch(() => null)) as { error?: string } | null
    error = body?.error ?? ''
  }
  logRequest(
    `${req.method} ${where} -> ${res.status}${note ? '  ' + note : ''}${error ? ' ' + error : ''}`,
  )
  return res
}

const client = createTesseraClient({
  issuer: cfg.issuer,
  clientId: cfg.clientId,
  redirectUri: cfg.redirectUri,
  postLogoutRedirectUri: cfg.postLogoutRedirectUri,
  scope: cfg.scope,
  apis: cfg.apis.map((a) => ({
    baseUrl: a.audience,
    audience: a.audience,
    scope: a.scopes.join(' '),
  })),
  storage: indexedDbStorage({ databaseName: 'tessera-playground' }),
  tabs: browserTabSync(),
  lifecycle: browserLifecycle(),
  fetch: loggingFetch,
  navigate: (url) => location.assign(url),
  currentUrl: () => location.href,
})

function setStatus(text: string): void {
  byId('status').textContent = text
}
function showError(err: unknown): void {
  const e = byId('error')
  e.textContent =
    err == null
      ? ''
      : err instanceof TesseraClientError
        ? `${err.code}: ${err.message}`
        : err instanceof Error
          ? err.message
          : JSON.stringify(err)
  e.hidden = err == null
}

// Live: the snapshot on every change, the diagnostic events as they come.
function renderSnapshot(): void {
  const s = client.getSnapshot()
  byId('snapshot').textContent = JSON.stringify(s, null, 2)
  byId('signed-in').hidden = !s.isSignedIn
  byId('signed-out').hidden = s.isSignedIn || !s.isLoaded
}
client.subscribe(renderSnapshot)
client.onDiagnostic((e: DiagnosticEvent) => {
  const { type, ...rest } = e
  const ol = byId('events')
  const detail = Object.entries(rest)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ')
  ol.insertBefore(
    el('li', {
      text: `${new Date().toISOString().slice(11, 23)}  ${type}${detail ? '  ' + detail : ''}`,
    }),
    ol.firstChild,
  )
  while (ol.childElementCount > EVENTS_MAX) ol.lastElementChild?.remove()
})

function tokenCard(id: string, title: string, jwt: string): HTMLElement {
  const card = el('div', { class: 'token', id }, [el('h3', { text: title })])
  const d = decodeJwt(jwt)
  card.appendChild(el('p', { class: 'expiry', 'data-exp': String(Number(d.claims.exp) * 1000) }))
  card.appendChild(
    el('div', { class: 'grid' }, [
      el('div', {}, [
        el('strong', { text: 'header' }),
        el('pre', { class: 'header', text: JSON.stringify(d.header, null, 2) }),
      ]),
      el('div', {}, [
        el('strong', { text: 'claims' }),
        el('pre', { class: 'claims', text: JSON.stringify(d.claims, null, 2) }),
      ]),
    ]),
  )
  return card
}

function putCard(card: HTMLElement): void {
  const old = document.getElementById(card.id)
  if (old) old.replaceWith(card)
  else byId('tokens').appendChild(card)
  tick()
}

async function showIssuerToken(): Promise<string> {
  const token = await client.getToken() // audience: the issuer (userinfo, the session endpoint)
  putCard(
    tokenCard('access-token', `Access token (aud: ${cfg.issuer}, accepted by userinfo)`, token),
  )
  const user = client.getSnapshot().user
  const idCard = el('div', { class: 'token', id: 'id-token' }, [
    el('h3', {
      text: 'ID token claims (validated by the client: signature, iss, aud, nonce, exp)',
    }),
    el('pre', { class: 'claims', text: JSON.stringify(user, null, 2) }),
  ])
  putCard(idCard)
  putCard(
    el('div', { class: 'token', id: 'refresh-token' }, [
      el('h3', { text: 'Refresh token' }),
      el('p', {
        text: 'Held by the client in IndexedDB and rotated on every use; the SDK never hands it to the app.',
      }),
    ]),
  )
  return token
}

async function loadSession(): Promise<void> {
  const dl = byId('session')
  const token = await client.getToken()
  const res = await loggingFetch(cfg.issuer + cfg.paths.session, {
    headers: { authorization: `Bearer ${token}` },
  })
  const s = (await res.json()) as SessionInfo
  dl.textContent = ''
  if (!res.ok) {
    dl.append(
      el('dt', { text: 'state' }),
      el('dd', { id: 'session-state', text: `unknown (${s.error ?? String(res.status)})` }),
    )
    return
  }
  skewMs = Number(s.now) - Date.now()
  const rows: [string, string, number | null][] = [
    ['state', s.state + (s.reason ? ` (${s.reason})` : ''), null],
    ['session id (sid)', s.sid, null],
    ['created', fmtTime(s.createdAt), null],
    ['last active', fmtTime(s.lastActiveAt), null],
    ['idle expiry', fmtTime(s.idleExpiresAt), s.idleExpiresAt],
    ['absolute expiry', fmtTime(s.expiresAt), s.expiresAt],
    ['refresh generation', String(s.generation), null],
    ['granted scope', s.scope, null],
    ['audiences', s.resources.join(' ') || '-', null],
  ]
  for (const [name, value, exp] of rows) {
    const dd = el('dd', { text: value, id: 'session-' + name.replace(/[^a-z]+/g, '-') })
    if (exp != null) dd.append(' ', el('span', { class: 'expiry', 'data-exp': String(exp) }))
    dl.append(el('dt', { text: name }), dd)
  }
  tick()
}

async function apiToken(index: number): Promise<void> {
  const api = cfg.apis[index]!
  const token = await client.getToken({ audience: api.audience })
  putCard(
    tokenCard(`api-token-${index}`, `Access token for ${api.name} (aud: ${api.audience})`, token),
  )
  await loadSession()
}

async function callUserinfo(): Promise<void> {
  const out = byId('userinfo')
  const res = await loggingFetch(cfg.issuer + cfg.paths.userinfo, {
    headers: { authorization: `Bearer ${await client.getToken()}` },
  })
  out.textContent = JSON.stringify(await res.json(), null, 2)
}

async function showSignedIn(): Promise<void> {
  await showIssuerToken()
  await loadSession()
}

/** Runs a button's action with every button disabled, and shows what it threw. */
function action(button: HTMLElement, busy: string, fn: () => Promise<unknown>): void {
  button.addEventListener('click', () => {
    setStatus(busy)
    showError(null)
    const buttons = document.querySelectorAll('button')
    buttons.forEach((b) => (b.disabled = true))
    fn()
      .catch(showError)
      .finally(() => {
        buttons.forEach((b) => (b.disabled = false))
        setStatus(client.getSnapshot().isSignedIn ? 'Signed in.' : 'Signed out.')
      })
  })
}

async function start(): Promise<void> {
  renderLog()
  renderSnapshot()
  cfg.apis.forEach((a, i) => {
    const b = el('button', {
      type: 'button',
      id: `api-token-button-${i}`,
      text: `Token for ${a.name}`,
    })
    action(b, `Getting a token for ${a.name}…`, () => apiToken(i))
    byId('api-buttons').appendChild(b)
  })
  action(byId('sign-in'), 'Redirecting to sign-in…', () => client.signIn())
  action(byId('call-userinfo'), 'Calling userinfo…', callUserinfo)
  action(byId('sign-out'), 'Signing out…', () => client.signOut())
  setInterval(tick, 1000)

  if (client.isRedirectCallback(location.href)) {
    try {
      setStatus('Redeeming the authorization code…')
      const { returnTo } = await client.handleRedirectCallback()
      history.replaceState(null, '', returnTo ?? '/')
    } catch (err) {
      history.replaceState(null, '', '/')
      showError(err)
    }
  } else if (location.pathname === cfg.paths.callback) {
    history.replaceState(null, '', '/')
    showError(new Error('the callback carries neither a code nor an error; it is ignored'))
  }
  const session = await client.whenLoaded()
  if (session.isSignedIn) {
    await showSignedIn().catch(showError)
    setStatus('Signed in.')
  } else {
    setStatus('Signed out.')
  }
}

start().catch((err: unknown) => {
  showError(err)
  setStatus('The playground failed to start.')
})
