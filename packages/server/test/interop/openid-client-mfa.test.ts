/**
 * Interoperability of two-step sign-in: `openid-client` asks for `acr_values=urn:tessera:acr:mfa`
 * for a user with a TOTP authenticator, the test plays the browser through the password form and
 * the code step, and the library validates the ID token and reads `amr`, `acr` and `auth_time`.
 */
import * as client from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/lib/clock.js'
import { browserFetch, CookieJar, formFields } from '../helpers/oauth-flow.js'
import { startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'
import { codeAt, enrolTotp, passwordStep, PASSWORD } from '../mfa/mfa-helpers.js'

let t: TestServer
beforeAll(async () => {
  // The library checks iat/exp against Date.now(): the server's clock starts there.
  t = await startTestServer({ clock: new FakeClock(Date.now()) })
  await t.createUser('alice', PASSWORD)
})
afterAll(async () => {
  await t.close()
})

describe('interop: openid-client and a sign-in that requires MFA', () => {
  it('acr_values=urn:tessera:acr:mfa: password, then a TOTP code; the library validates the ID token and reads amr, acr and auth_time', async () => {
    const first = await passwordStep(t)
    const e = await enrolTotp(t, first.jar)

    const config = await client.discovery(new URL(t.url), 'web-app', undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    })
    expect(config.serverMetadata().acr_values_supported).toContain('urn:tessera:acr:mfa')
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: WEB_REDIRECT,
      scope: 'openid offline_access read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      acr_values: 'urn:tessera:acr:mfa',
    })

    const jar = new CookieJar()
    const toLogin = await browserFetch(jar, url.href)
    const loginUrl = new URL(toLogin.headers.get('location') ?? '', t.url)
    const loginPage = await browserFetch(jar, loginUrl.href)
    const afterPassword = await browserFetch(jar, t.url + '/login', {
      form: { ...formFields(await loginPage.text()), username: 'alice', password: PASSWORD },
    })
    const codePage = await afterPassword.text()
    expect(afterPassword.status).toBe(200)
    const back = await browserFetch(jar, t.url + '/login/otp', {
      form: { ...formFields(codePage), code: codeAt(t, e.secret, 1) },
    })
    expect(back.status).toBe(303)

    const tokens = await client.authorizationCodeGrant(
      config,
      new URL(back.headers.get('location') ?? ''),
      {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      },
    )
    const c = tokens.claims()
    expect(c?.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(c?.acr).toBe('urn:tessera:acr:mfa')
    expect(typeof c?.auth_time).toBe('number')
    expect(c?.tessera_task).toBeUndefined()
  })
})
