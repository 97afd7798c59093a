import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import {
  authorizationParams,
  authorize,
  CookieJar,
  expectErrorPage,
  isLoginRedirect,
  rowCounts,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import {
  defaultClients,
  NATIVE_REDIRECT,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'

let t: TestServer
let sso: CookieJar
beforeAll(async () => {
  t = await startTestServer({
    clients: [
      ...defaultClients,
      { id: 'query-app', redirectUris: ['https://q.example.test/cb?tenant=1'] },
      { id: 'web-loopback', redirectUris: ['http://127.0.0.1:3000/cb'] },
      {
        id: 'native-localhost',
        applicationType: 'native',
        redirectUris: ['http://localhost:8080/cb'],
      },
    ],
  })
  await t.createUser()
  // Signed in, so a refusal cannot hide behind the sign-in form: it must be a page, not a redirect.
  sso = (await authorize(t)).cookies
})
afterAll(async () => {
  await t.close()
})

async function request(clientId: string, redirectUri: string | null): Promise<Response> {
  const { params } = authorizationParams({ clientId, redirectUri, scope: 'openid' })
  return startAuthorize(t, params, sso)
}

describe('RDR-01 redirect_uri must match a registered one exactly', () => {
  const rows: [string, string, string][] = [
    ['trailing slash', 'web-app', WEB_REDIRECT + '/'],
    ['path case', 'web-app', 'https://app.example.test/Callback'],
    ['host case', 'web-app', 'https://APP.example.test/callback'],
    ['scheme', 'web-app', 'http://app.example.test/callback'],
    ['port added', 'web-app', 'https://app.example.test:8443/callback'],
    ['default port spelled out', 'web-app', 'https://app.example.test:443/callback'],
    ['path extended', 'web-app', 'https://app.example.test/callback/evil'],
    ['dot segments', 'web-app', 'https://app.example.test/x/../callback'],
    ['percent-encoded path', 'web-app', 'https://app.example.test/%63allback'],
    ['query added', 'web-app', WEB_REDIRECT + '?next=https://evil.example'],
    ['fragment added', 'web-app', WEB_REDIRECT + '#x'],
    ['subdomain', 'web-app', 'https://evil.app.example.test/callback'],
    ['userinfo', 'web-app', 'https://app.example.test@evil.example/callback'],
    ["another client's URI", 'web-app', 'https://other.example.test/callback'],
    ['registered query removed', 'query-app', 'https://q.example.test/cb'],
    ['registered query changed', 'query-app', 'https://q.example.test/cb?tenant=2'],
    ['query appended to registered query', 'query-app', 'https://q.example.test/cb?tenant=1&x=1'],
    ['web client loopback, other port', 'web-loopback', 'http://127.0.0.1:3001/cb'],
    ['not a URI', 'web-app', 'callback'],
  ]
  it.each(rows)('%s: error page, no redirect, no code', async (_name, clientId, uri) => {
    const before = rowCounts(t)
    const res = await request(clientId, uri)
    const html = await expectErrorPage(res, 400, 'invalid_request')
    expect(html).toContain('redirect_uri is not registered for this client')
    expect(html).not.toContain(uri.replace(/&/g, '&#38;'))
    expect(rowCounts(t).authorization_codes).toBe(before.authorization_codes)
  })

  it('the registered URI with its query matches and keeps the query', async () => {
    const a = await authorize(t, {
      clientId: 'query-app',
      redirectUri: 'https://q.example.test/cb?tenant=1',
      scope: 'openid',
      jar: sso,
    })
    expect(a.location.origin + a.location.pathname).toBe('https://q.example.test/cb')
    expect([...a.location.searchParams.keys()]).toEqual(['tenant', 'code', 'state', 'iss'])
    expect(a.location.searchParams.get('tenant')).toBe('1')
  })
})

describe('RDR-02 loopback redirect URIs of native clients', () => {
  const accepted: [string, string][] = [
    ['IPv4 loopback, any port', 'http://127.0.0.1:51234/cb'],
    ['IPv4 loopback, registered without port', 'http://127.0.0.1/cb'],
    ['IPv6 loopback, any port', 'http://[::1]:6000/cb'],
    ['private-use scheme', NATIVE_REDIRECT],
  ]
  it.each(accepted)('%s is accepted and gets the code', async (_name, uri) => {
    const a = await authorize(t, {
      clientId: 'native-app',
      redirectUri: uri,
      scope: 'openid',
      jar: sso,
    })
    expect(a.location.toString().startsWith(uri + '?code=')).toBe(true)
    expect((await t.store.getCode(sha256b64u(a.code)))?.redirectUri).toBe(uri)
  })

  const rejected: [string, string, string][] = [
    ['localhost is not 127.0.0.1', 'native-app', 'http://localhost:51234/cb'],
    ['path differs', 'native-app', 'http://127.0.0.1:51234/cb/'],
    ['path case differs', 'native-app', 'http://127.0.0.1:51234/CB'],
    ['query added', 'native-app', 'http://127.0.0.1:51234/cb?x=1'],
    ['https instead of http', 'native-app', 'https://127.0.0.1:51234/cb'],
    ['another loopback address', 'native-app', 'http://127.0.0.2:51234/cb'],
    ['127.0.0.1 is not localhost', 'native-localhost', 'http://127.0.0.1:8080/cb'],
    ['localhost gets no port freedom', 'native-localhost', 'http://localhost:9090/cb'],
  ]
  it.each(rejected)('%s: error page', async (_name, clientId, uri) => {
    const before = rowCounts(t)
    await expectErrorPage(await request(clientId, uri), 400, 'invalid_request')
    expect(rowCounts(t).authorization_codes).toBe(before.authorization_codes)
  })
})

describe('RDR-04 redirect_uri may be omitted only with one registered URI', () => {
  it('a client with two registered URIs that omits redirect_uri gets an error page', async () => {
    const before = rowCounts(t)
    const html = await expectErrorPage(await request('web-app', null), 400, 'invalid_request')
    expect(html).toContain('redirect_uri is required: the client registered more than one')
    expect(rowCounts(t)).toEqual(before)
  })

  it('a client with one registered URI may omit it; the code goes to that URI', async () => {
    const a = await authorize(t, {
      clientId: 'other-app',
      redirectUri: null,
      scope: 'openid',
      jar: sso,
    })
    expect(a.location.origin + a.location.pathname).toBe('https://other.example.test/callback')
  })
})

describe('RDR-05 unknown or missing client_id: no redirect', () => {
  it('an unknown client_id gets an error page, even with a registered URI of another client', async () => {
    const before = rowCounts(t)
    const res = await request('no-such-client', WEB_REDIRECT)
    const html = await expectErrorPage(res, 400, 'invalid_request')
    expect(html).toContain('client_id does not name a registered client')
    expect(rowCounts(t)).toEqual(before)
  })

  it('a missing client_id gets an error page', async () => {
    const res = await fetch(
      `${t.url}/authorize?response_type=code&redirect_uri=${encodeURIComponent(WEB_REDIRECT)}`,
      {
        redirect: 'manual',
      },
    )
    const html = await expectErrorPage(res, 400, 'invalid_request')
    expect(html).toContain('missing required parameter client_id')
  })

  it('without a session the same requests still get the page, not the sign-in form', async () => {
    const { params } = authorizationParams({ clientId: 'web-app', redirectUri: WEB_REDIRECT + '/' })
    const res = await startAuthorize(t, params, new CookieJar())
    expect(isLoginRedirect(t, res)).toBe(false)
    await expectErrorPage(res, 400, 'invalid_request')
  })
})
