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

/**
 * The playground: one HTML page, inline CSS and JS allowed by a per-response CSP nonce, nothing
 * loaded from elsewhere. It is a public client like any SPA: PKCE S256 with WebCrypto, `state` and
 * `iss` checked on the callback (RFC 9207), tokens kept in memory only.
 */
export function playgroundPage(settings: PlaygroundSettings, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Tessera playground</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
</head>
<body>
<header>
  <h1>Tessera playground</h1>
  <p class="muted">Development mode. Issuer <code>${escapeHtml(settings.issuer)}</code>, client
  <code>${escapeHtml(settings.clientId)}</code>. Tokens live in this tab's memory only.</p>
</header>
<main>
  <p id="status" role="status" aria-live="polite">Loading…</p>
  <p id="error" role="alert" hidden></p>
  <section id="signed-out" hidden>
    <p>Sign in to the demo client with the authorization code flow and PKCE (S256).</p>
    <button id="sign-in" type="button">Sign in</button>
  </section>
  <section id="signed-in" hidden>
    <div class="actions">
      <button id="refresh" type="button">Refresh</button>
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
  <section>
    <h2>Requests</h2>
    <ol id="log"></ol>
  </section>
</main>
<script type="application/json" id="playground-settings">${embedJson(settings)}</script>
<script nonce="${escapeHtml(nonce)}">${SCRIPT}</script>
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
#log li { font-family: ui-monospace, monospace; font-size: 0.85rem; }
`

// Plain browser JavaScript, kept free of backticks and template placeholders because it sits in a
// template literal. Tokens are only ever written with textContent.
const SCRIPT = String.raw`
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('playground-settings').textContent);
  var PENDING_SIGN_IN = 'tessera.playground.sign-in';
  var PENDING_SIGN_OUT = 'tessera.playground.sign-out';
  var tokens = null;
  var apiTokens = {};
  var skewMs = 0;

  function $(id) { return document.getElementById(id); }
  function el(tag, props, children) {
    var e = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'class') e.className = props[k];
      else e.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function b64url(bytes) {
    var s = '';
    bytes.forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }
  function b64urlDecode(s) {
    s = s.replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    var bin = atob(s);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(bytes);
  }
  function randomString(n) {
    var a = new Uint8Array(n);
    crypto.getRandomValues(a);
    return b64url(a);
  }
  async function s256(verifier) {
    var digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return b64url(new Uint8Array(digest));
  }
  function decodeJwt(jwt) {
    var parts = jwt.split('.');
    if (parts.length !== 3) throw new Error('not a JWT');
    return { header: JSON.parse(b64urlDecode(parts[0])), claims: JSON.parse(b64urlDecode(parts[1])) };
  }
  function now() { return Date.now() + skewMs; }
  function fmtTime(ms) { return ms == null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z'); }
  function fmtLeft(ms) {
    if (ms <= 0) return 'expired';
    var s = Math.floor(ms / 1000);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    var pad = function (x) { return (x < 10 ? '0' : '') + x; };
    return 'expires in ' + (d ? d + 'd ' : '') + pad(h) + ':' + pad(m) + ':' + pad(s % 60);
  }

  function setStatus(text) { $('status').textContent = text; }
  function showError(text) {
    var e = $('error');
    e.textContent = text;
    e.hidden = !text;
  }
  function logRequest(method, path, status, note) {
    var li = el('li', { text: new Date().toISOString().slice(11, 19) + '  ' + method + ' ' + path +
      ' -> ' + status + (note ? '  ' + note : '') });
    $('log').insertBefore(li, $('log').firstChild);
  }
  function render() {
    $('signed-in').hidden = !tokens;
    $('signed-out').hidden = !!tokens;
    renderTokens();
  }

  async function post(path, form) {
    var res = await fetch(cfg.issuer + path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form),
      credentials: 'omit'
    });
    var text = await res.text();
    var body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    var note = body && body.error ? body.error : '';
    if (form.grant_type) note = 'grant_type=' + form.grant_type + (form.resource ? ' resource=' + form.resource : '') + (note ? ' ' + note : '');
    logRequest('POST', path, res.status, note);
    if (!res.ok) {
      var err = new Error(body && body.error ? body.error + ': ' + (body.error_description || '') : 'HTTP ' + res.status);
      err.status = res.status;
      throw err;
    }
    return body;
  }
  async function getJson(path, accessToken) {
    var res = await fetch(cfg.issuer + path, {
      headers: { authorization: 'Bearer ' + accessToken },
      credentials: 'omit'
    });
    var body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    logRequest('GET', path, res.status, body && body.error ? body.error : '');
    if (!res.ok) throw new Error(body && body.error ? body.error + ': ' + (body.error_description || '') : 'HTTP ' + res.status);
    return body;
  }

  async function signIn() {
    showError('');
    var verifier = randomString(32);
    var pending = { verifier: verifier, state: randomString(16), nonce: randomString(16) };
    sessionStorage.setItem(PENDING_SIGN_IN, JSON.stringify(pending));
    var u = new URL(cfg.issuer + cfg.paths.authorize);
    u.searchParams.set('response_type', 'code');
    u.searchParams.set('client_id', cfg.clientId);
    u.searchParams.set('redirect_uri', cfg.redirectUri);
    u.searchParams.set('scope', cfg.scope);
    u.searchParams.set('state', pending.state);
    u.searchParams.set('nonce', pending.nonce);
    u.searchParams.set('code_challenge', await s256(verifier));
    u.searchParams.set('code_challenge_method', 'S256');
    cfg.apis.forEach(function (a) { u.searchParams.append('resource', a.audience); });
    location.assign(u.toString());
  }

  async function handleCallback() {
    var q = new URLSearchParams(location.search);
    var raw = sessionStorage.getItem(PENDING_SIGN_IN);
    sessionStorage.removeItem(PENDING_SIGN_IN);
    history.replaceState(null, '', '/');
    var pending = raw ? JSON.parse(raw) : null;
    if (!pending) throw new Error('no sign-in was started in this tab; the callback is ignored');
    if (q.get('state') !== pending.state) throw new Error('state does not match the sign-in this tab started; the callback is ignored');
    if (q.get('iss') !== cfg.issuer) throw new Error('iss is missing or names another issuer (RFC 9207); the callback is ignored');
    if (q.get('error')) throw new Error(q.get('error') + ': ' + (q.get('error_description') || ''));
    var code = q.get('code');
    if (!code) throw new Error('the callback carries no code');
    setStatus('Redeeming the authorization code…');
    var body = await post(cfg.paths.token, {
      grant_type: 'authorization_code',
      code: code,
      redirect_uri: cfg.redirectUri,
      client_id: cfg.clientId,
      code_verifier: pending.verifier
    });
    var id = decodeJwt(body.id_token).claims;
    if (id.nonce !== pending.nonce) throw new Error('the ID token nonce does not match the sign-in');
    if (id.iss !== cfg.issuer || id.aud !== cfg.clientId) throw new Error('the ID token is not for this client');
    tokens = { access: body.access_token, id: body.id_token, refresh: body.refresh_token };
    apiTokens = {};
  }

  async function refresh(resource) {
    showError('');
    var form = { grant_type: 'refresh_token', refresh_token: tokens.refresh, client_id: cfg.clientId };
    if (resource) form.resource = resource;
    var body = await post(cfg.paths.token, form);
    tokens.refresh = body.refresh_token || tokens.refresh;
    if (body.id_token) tokens.id = body.id_token;
    if (resource) apiTokens[resource] = body.access_token;
    else tokens.access = body.access_token;
    render();
    await loadSession();
  }

  async function loadSession() {
    var dl = $('session');
    try {
      var s = await getJson(cfg.paths.session, tokens.access);
      skewMs = s.now - Date.now();
      var rows = [
        ['state', s.state + (s.reason ? ' (' + s.reason + ')' : ''), null],
        ['session id (sid)', s.sid, null],
        ['created', fmtTime(s.createdAt), null],
        ['last active', fmtTime(s.lastActiveAt), null],
        ['idle expiry', fmtTime(s.idleExpiresAt), s.idleExpiresAt],
        ['absolute expiry', fmtTime(s.expiresAt), s.expiresAt],
        ['refresh generation', String(s.generation), null],
        ['granted scope', s.scope, null],
        ['audiences', s.resources.join(' ') || '-', null]
      ];
      dl.textContent = '';
      rows.forEach(function (r) {
        dl.appendChild(el('dt', { text: r[0] }));
        var dd = el('dd', { text: r[1], id: 'session-' + r[0].replace(/[^a-z]+/g, '-') });
        if (r[2] != null) {
          dd.appendChild(document.createTextNode(' '));
          dd.appendChild(el('span', { class: 'expiry', 'data-exp': String(r[2]) }));
        }
        dl.appendChild(dd);
      });
      tick();
    } catch (e) {
      dl.textContent = '';
      dl.appendChild(el('dt', { text: 'state' }));
      dl.appendChild(el('dd', { id: 'session-state', text: 'unknown (' + e.message + '); refresh to get a new access token' }));
    }
  }

  function tokenCard(id, title, jwt) {
    var card = el('div', { class: 'token', id: id });
    card.appendChild(el('h3', { text: title }));
    try {
      var d = decodeJwt(jwt);
      var exp = el('p', { class: 'expiry', 'data-exp': String(d.claims.exp * 1000) });
      card.appendChild(exp);
      card.appendChild(el('div', { class: 'grid' }, [
        el('div', {}, [el('strong', { text: 'header' }), el('pre', { class: 'header', text: JSON.stringify(d.header, null, 2) })]),
        el('div', {}, [el('strong', { text: 'claims' }), el('pre', { class: 'claims', text: JSON.stringify(d.claims, null, 2) })])
      ]));
    } catch (e) {
      card.appendChild(el('p', { text: 'cannot decode: ' + e.message }));
    }
    return card;
  }

  function renderTokens() {
    var box = $('tokens');
    box.textContent = '';
    if (!tokens) return;
    box.appendChild(tokenCard('access-token', 'Access token (aud: ' + cfg.issuer + ', accepted by userinfo)', tokens.access));
    cfg.apis.forEach(function (a, i) {
      if (apiTokens[a.audience]) box.appendChild(tokenCard('api-token-' + i, 'Access token for ' + a.name + ' (aud: ' + a.audience + ')', apiTokens[a.audience]));
    });
    box.appendChild(tokenCard('id-token', 'ID token', tokens.id));
    var rt = el('div', { class: 'token', id: 'refresh-token' });
    rt.appendChild(el('h3', { text: 'Refresh token' }));
    rt.appendChild(el('p', { text: 'Opaque, rotated on every use: ' + tokens.refresh.slice(0, 8) + '… (' + tokens.refresh.length + ' characters).' }));
    box.appendChild(rt);
    tick();
  }

  function tick() {
    document.querySelectorAll('[data-exp]').forEach(function (e) {
      var left = Number(e.getAttribute('data-exp')) - now();
      e.textContent = fmtLeft(left);
      e.classList.toggle('expired', left <= 0);
    });
  }

  async function callUserinfo() {
    showError('');
    var out = $('userinfo');
    try {
      out.textContent = JSON.stringify(await getJson(cfg.paths.userinfo, tokens.access), null, 2);
    } catch (e) {
      out.textContent = e.message;
      throw e;
    }
  }

  async function signOut() {
    showError('');
    var current = tokens;
    // Local first: forget the tokens, then revoke at the server and end the session there.
    tokens = null;
    apiTokens = {};
    render();
    var revoked = 'not sent';
    try {
      await post(cfg.paths.revoke, { token: current.refresh, token_type_hint: 'refresh_token', client_id: cfg.clientId });
      revoked = '200';
    } catch (e) {
      revoked = e.status ? String(e.status) : 'failed';
    }
    var state = randomString(16);
    sessionStorage.setItem(PENDING_SIGN_OUT, JSON.stringify({ state: state, revoked: revoked }));
    var u = new URL(cfg.issuer + cfg.paths.endSession);
    u.searchParams.set('id_token_hint', current.id);
    u.searchParams.set('client_id', cfg.clientId);
    u.searchParams.set('post_logout_redirect_uri', cfg.postLogoutRedirectUri);
    u.searchParams.set('state', state);
    location.assign(u.toString());
  }

  function guard(fn, busy) {
    return function () {
      var arg = this && this.getAttribute ? this.getAttribute('data-resource') : null;
      setStatus(busy);
      document.querySelectorAll('button').forEach(function (b) { b.disabled = true; });
      Promise.resolve(fn(arg)).then(function () {
        setStatus(tokens ? 'Signed in.' : 'Signed out.');
      }, function (e) {
        showError(e.message);
        setStatus(tokens ? 'Signed in.' : 'Signed out.');
      }).finally(function () {
        document.querySelectorAll('button').forEach(function (b) { b.disabled = false; });
      });
    };
  }

  async function start() {
    cfg.apis.forEach(function (a, i) {
      var b = el('button', { type: 'button', id: 'api-token-button-' + i, 'data-resource': a.audience, text: 'Token for ' + a.name });
      b.addEventListener('click', guard(function (resource) { return refresh(resource); }, 'Getting a token for ' + a.name + '…'));
      $('api-buttons').appendChild(b);
    });
    $('sign-in').addEventListener('click', guard(signIn, 'Redirecting to sign-in…'));
    $('refresh').addEventListener('click', guard(function () { return refresh(null); }, 'Refreshing…'));
    $('call-userinfo').addEventListener('click', guard(callUserinfo, 'Calling userinfo…'));
    $('sign-out').addEventListener('click', guard(signOut, 'Signing out…'));
    setInterval(tick, 1000);

    var q = new URLSearchParams(location.search);
    if (location.pathname === cfg.paths.callback) {
      try {
        await handleCallback();
        render();
        await loadSession();
        setStatus('Signed in.');
      } catch (e) {
        render();
        showError(e.message);
        setStatus('Signed out.');
      }
      return;
    }
    var pendingOut = sessionStorage.getItem(PENDING_SIGN_OUT);
    if (pendingOut !== null && q.has('state')) {
      sessionStorage.removeItem(PENDING_SIGN_OUT);
      history.replaceState(null, '', '/');
      var out = JSON.parse(pendingOut);
      logRequest('POST', cfg.paths.revoke, out.revoked, 'before leaving');
      logRequest('GET', cfg.paths.endSession, '303', 'back with state');
      render();
      setStatus('Signed out.');
      if (q.get('state') !== out.state) showError('the logout response state does not match the sign-out this tab started');
      return;
    }
    render();
    setStatus('Signed out.');
  }

  start();
})();
`
