/**
 * Two-step verification in Chromium: a client that requires MFA signs a user without an
 * authenticator in (the session is pending), the user enrols on the hosted page (the QR code
 * renders as inline SVG under the page's CSP, with no violation reported), sees the recovery
 * codes and goes back to the app; then a new sign-in asks for the code after the password and
 * its 303 reaches the client on another origin (form-action).
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { contextWithClient, launchChromium } from '../helpers/chromium.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import {
  API_A,
  defaultApis,
  defaultClients,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'
import { claims, codeAt, fromBase32, PASSWORD, redeem } from './mfa-helpers.js'

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let t: TestServer
let browser: Browser
beforeAll(async () => {
  t = await startTestServer({
    apis: defaultApis,
    clients: [
      ...defaultClients,
      {
        id: 'strict-app',
        redirectUris: [WEB_REDIRECT],
        audiences: [API_A],
        scopes: ['openid', 'offline_access', 'read'],
        requireMfa: true,
      },
    ],
  })
  await t.createUser()
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
})

describe('two-step verification in Chromium', () => {
  it('enrol from a pending session (QR code under the CSP), then sign in with password and code', async () => {
    const { context, problems } = await contextWithClient(browser)
    const page = await context.newPage()
    const a = authorizationParams({ clientId: 'strict-app', state: 'mfa-1' })
    await page.goto(`${t.url}/authorize?${a.params}`)
    await page.fill('#username', 'alice')
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('#client')
    const first = await redeem(
      t,
      { codeVerifier: a.codeVerifier, redirectUri: WEB_REDIRECT, clientId: 'strict-app' },
      new URL(page.url()).searchParams.get('code') ?? '',
    )
    expect(claims(first.body.id_token).tessera_task).toBe('setup-mfa')

    await page.goto(
      `${t.url}/account/mfa?client_id=strict-app&return_to=${encodeURIComponent('https://app.example.test/home')}`,
    )
    const qr = await page.locator('figure svg').boundingBox()
    expect(qr).toMatchObject({ width: 200, height: 200 })
    const secret = fromBase32((await page.textContent('#secret')) ?? '')
    await page.fill('#code', codeAt(t, secret))
    await page.click('button[type=submit]')
    await page.waitForSelector('#recovery-codes')
    expect(await page.locator('#recovery-codes li').count()).toBe(10)
    await page.click('text=Back to the application')
    await page.waitForSelector('#client')
    expect(page.url()).toBe('https://app.example.test/home')
    expect((await t.store.getSession(claims(first.body.id_token).sid))?.state).toBe('active')

    // A new browser: password, then the code; the answer reaches the client.
    const second = await contextWithClient(browser)
    const p2 = await second.context.newPage()
    const b = authorizationParams({ clientId: 'strict-app', state: 'mfa-2' })
    await p2.goto(`${t.url}/authorize?${b.params}`)
    await p2.fill('#username', 'alice')
    await p2.fill('#password', PASSWORD)
    await p2.click('button[type=submit]')
    await p2.waitForSelector('#code')
    await p2.fill('#code', codeAt(t, secret, 1))
    await p2.click('button[type=submit]')
    await p2.waitForSelector('#client')
    const tokens = await redeem(
      t,
      { codeVerifier: b.codeVerifier, redirectUri: WEB_REDIRECT, clientId: 'strict-app' },
      new URL(p2.url()).searchParams.get('code') ?? '',
      { resource: API_A },
    )
    expect(tokens.status).toBe(200)
    expect(claims(tokens.body.access_token).amr).toEqual(['pwd', 'otp', 'mfa'])
    expect([...problems, ...second.problems]).toEqual([])
    await context.close()
    await second.context.close()
  })
})
