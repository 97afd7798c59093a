/**
 * Expo Go redirects to `exp://HOST:PORT/--/PATH`, which RFC 8252 would refuse (a private-use
 * scheme is a reverse domain name). `tessera dev` accepts it for its demo client only: a server
 * with `dev` on, the demo client, a well-formed URI. Another client, the same client on a server
 * without `dev` (`tessera start`), or a malformed exp URI get the error page and no code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { postForm } from '../helpers/grants.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import {
  DEMO_CLIENT_ID,
  DEMO_NATIVE_REDIRECT_URI,
  demoClient,
  isExpoGoRedirectUri,
} from '../../src/dev/demo.js'
import {
  authorizationParams,
  authorize,
  type CookieJar,
  expectErrorPage,
  rowCounts,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import {
  defaultApis,
  defaultClients,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'

const EXPO_GO = 'exp://192.168.1.20:8081/--/callback'

/** The demo client as `tessera dev` registers it, with the test APIs' audience and scopes. */
const demo = {
  ...demoClient('http://127.0.0.1'),
  audiences: [defaultApis[0]!.audience],
  scopes: ['openid', 'offline_access', 'read'],
}
const otherNative = defaultClients.find((c) => c.id === 'native-app')!

let dev: TestServer
let start: TestServer
let devJar: CookieJar
let startJar: CookieJar
beforeAll(async () => {
  ;[dev, start] = await Promise.all([
    startTestServer({ config: { dev: true }, clients: [demo, otherNative] }),
    startTestServer({ config: { dev: false }, clients: [demo, otherNative] }),
  ])
  await Promise.all([dev.createUser(), start.createUser()])
  // Signed in, so a refusal is the error page itself, not the sign-in form.
  const signIn = {
    clientId: DEMO_CLIENT_ID,
    redirectUri: DEMO_NATIVE_REDIRECT_URI,
    scope: 'openid',
  }
  devJar = (await authorize(dev, signIn)).cookies
  startJar = (await authorize(start, signIn)).cookies
})
afterAll(async () => {
  await Promise.all([dev?.close(), start?.close()])
})

async function refused(t: TestServer, jar: CookieJar, clientId: string, uri: string) {
  const before = rowCounts(t)
  const { params } = authorizationParams({ clientId, redirectUri: uri, scope: 'openid' })
  const html = await expectErrorPage(await startAuthorize(t, params, jar), 400, 'invalid_request')
  expect(html).toContain('redirect_uri is not registered for this client')
  expect(rowCounts(t).authorization_codes).toBe(before.authorization_codes)
}

describe('tessera dev: Expo Go exp:// redirect URIs for the demo client', () => {
  it.each([
    ['LAN address and Metro port', EXPO_GO],
    ['host name, nested path', 'exp://devbox.local:19000/--/auth/callback'],
    ['no port', 'exp://10.0.2.2/--/callback'],
  ])('%s: accepted in dev, the code is bound to it and redeemed with it', async (_n, uri) => {
    const a = await authorize(dev, {
      clientId: DEMO_CLIENT_ID,
      redirectUri: uri,
      scope: 'openid offline_access read',
      jar: devJar,
    })
    expect(a.location.toString().startsWith(uri + '?code=')).toBe(true)
    expect(a.location.searchParams.get('iss')).toBe(dev.url)
    expect((await dev.store.getCode(sha256b64u(a.code)))?.redirectUri).toBe(uri)
    const res = await postForm(dev.url + '/oauth/token', {
      grant_type: 'authorization_code',
      client_id: DEMO_CLIENT_ID,
      code: a.code,
      redirect_uri: uri,
      code_verifier: a.codeVerifier,
    })
    expect(res.status).toBe(200)
    expect(res.body.access_token).toMatch(/^ey/)
  })

  it('the reverse-domain scheme of a development build stays registered', async () => {
    const a = await authorize(dev, {
      clientId: DEMO_CLIENT_ID,
      redirectUri: DEMO_NATIVE_REDIRECT_URI,
      scope: 'openid',
      jar: devJar,
    })
    expect(a.location.toString().startsWith(DEMO_NATIVE_REDIRECT_URI + '?code=')).toBe(true)
  })

  it('refused for any other client, even a native one, in dev', async () => {
    await refused(dev, devJar, otherNative.id, EXPO_GO)
  })

  it('refused for the demo client on a server without dev (tessera start)', async () => {
    await refused(start, startJar, DEMO_CLIENT_ID, EXPO_GO)
    // while its registered URIs still work there
    const a = await authorize(start, {
      clientId: DEMO_CLIENT_ID,
      redirectUri: DEMO_NATIVE_REDIRECT_URI,
      scope: 'openid',
      jar: startJar,
    })
    expect(a.code).toBeTruthy()
  })

  it.each([
    ['no /--/ path', 'exp://192.168.1.20:8081/callback'],
    ['credentials', 'exp://user:pw@192.168.1.20:8081/--/callback'],
    ['fragment', 'exp://192.168.1.20:8081/--/callback#x'],
    ['dot segments out of /--/', 'exp://192.168.1.20:8081/--/../callback'],
    ['no host', 'exp:///--/callback'],
    ['exps scheme', 'exps://192.168.1.20:8081/--/callback'],
    ['opaque exp URI', 'exp:callback'],
  ])('malformed (%s): refused in dev', async (_n, uri) => {
    expect(isExpoGoRedirectUri(uri)).toBe(false)
    await refused(dev, devJar, DEMO_CLIENT_ID, uri)
  })
})
