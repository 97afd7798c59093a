import { decodeJwt } from 'jose'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { launchChromium } from '../helpers/chromium.js'
import { codeForm, postForm } from '../helpers/grants.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { TestSmtp } from '../helpers/smtp.js'
import {
  API_A,
  defaultClients,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'

/**
 * ACC-03 with a passkey sign-in, in Chromium with the DevTools virtual authenticator: with
 * `accounts.requireVerifiedEmail`, a passkey sign-in of a user whose address is not verified is
 * `pending` with the task `verify-email` like a password one, and the mailed link, opened in
 * another browser context, activates it. The issuer is `http://localhost:<port>` (an IP literal
 * cannot be a WebAuthn RP ID).
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let t: TestServer
let smtp: TestSmtp
let issuer: string
let browser: Browser
let context: BrowserContext
let page: Page

beforeAll(async () => {
  smtp = await new TestSmtp().start()
  t = await startTestServer({
    issuerHost: 'localhost',
    clients: defaultClients,
    config: {
      email: {
        smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
        from: 'auth@example.test',
      },
      accounts: { requireVerifiedEmail: true },
    },
  })
  issuer = t.server.ctx.config.issuer
  await t.createUser('alice')
  browser = await launchChromium()
  context = await browser.newContext()
  await context.route('https://app.example.test/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<p id="client">client</p>' }),
  )
  page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
}, 60_000)
afterAll(async () => {
  await context?.close()
  await browser?.close()
  await t?.close()
  await smtp?.close()
})

async function atSignIn(): Promise<string> {
  t.clock.advance(1000)
  const { params, codeVerifier } = authorizationParams({ scope: 'openid email offline_access' })
  await page.goto(`${issuer}/authorize?${params}`)
  await page.waitForSelector('#username')
  return codeVerifier
}

async function redeem(codeVerifier: string, resource?: string) {
  await page.waitForSelector('#client')
  const callback = new URL(page.url())
  expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)
  return postForm(t.url + '/oauth/token', {
    ...codeForm({
      code: callback.searchParams.get('code')!,
      verifier: codeVerifier,
      redirectUri: WEB_REDIRECT,
      clientId: 'web-app',
    }),
    ...(resource ? { resource } : {}),
  })
}

describe('ACC-03 verify-email after a passkey sign-in (Chromium)', () => {
  it('ACC-03 a passkey sign-in of an unverified user is pending verify-email until the mailed link is followed', async () => {
    // A password sign-in (pending too), then a passkey added on the hosted page.
    const first = await atSignIn()
    await page.fill('#username', 'alice')
    await page.fill('#password', 'correct horse battery')
    await page.click('form:not(#passkey-sign-in) button[type=submit]')
    const pw = await redeem(first)
    expect(decodeJwt(pw.body.id_token as string).tessera_task).toBe('verify-email')
    await page.goto(`${issuer}/passkeys`)
    await page.fill('#passkey-name', 'Laptop')
    await page.click('#passkey-register .passkey-button')
    await page.waitForSelector('#passkeys')
    await page.goto(
      `${issuer}/logout?${new URLSearchParams({ id_token_hint: pw.body.id_token as string })}`,
    )

    // The passkey sign-in: amr hwk + user, and still pending verify-email.
    const verifier = await atSignIn()
    await page.click('#passkey-sign-in .passkey-button')
    const refused = await redeem(verifier, API_A)
    expect(refused.status).toBe(400)
    expect(refused.body).toMatchObject({ error: 'session_pending', tessera_task: 'verify-email' })
    // The refusal spent nothing: the same code, for the issuer.
    const tokens = await redeem(verifier)
    expect(tokens.status).toBe(200)
    const id = decodeJwt(tokens.body.id_token as string)
    expect(id.amr).toEqual(['hwk', 'user'])
    expect(id.tessera_task).toBe('verify-email')

    // The link, opened in another browser context (no cookie of this one).
    const from = smtp.messages.length
    const alice = (await t.store.getUserByUsername('alice'))!
    t.server.ctx.accounts.queueVerification(t.server.ctx, alice)
    const mail = await smtp.next(
      (m) => m.subject === 'Confirm your email address' && JSON.stringify(m.to).includes('alice@'),
      from,
    )
    const other = await browser.newContext()
    try {
      const tab = await other.newPage()
      await tab.goto(TestSmtp.link(mail, ACCOUNT_PATHS.verifyEmail))
      expect(await tab.textContent('h1')).toBe('Address verified')
    } finally {
      await other.close()
    }
    const api = await postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
      client_id: 'web-app',
      resource: API_A,
    })
    expect(api.status).toBe(200)
    expect(decodeJwt(api.body.access_token as string).aud).toBe(API_A)
  })
})
