import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { contextWithClient, launchChromium } from '../helpers/chromium.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { TestSmtp } from '../helpers/smtp.js'
import {
  defaultClients,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'

/**
 * Sign-up, email verification and password reset end to end in Chromium, with the mail going
 * through a real SMTP server and its links followed by the browser. The client's origin is
 * answered by Playwright's interception. CSP violations would show as console errors.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let smtp: TestSmtp
let t: TestServer
let browser: Browser

beforeAll(async () => {
  smtp = await new TestSmtp().start()
  t = await startTestServer({
    clients: defaultClients.map((c) => (c.id === 'web-app' ? { ...c, signUp: true } : c)),
    config: {
      email: {
        smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
        from: 'auth@example.test',
      },
    },
  })
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
  await smtp?.close()
})

describe('accounts in Chromium', () => {
  it('signs up from the sign-in page, reaches the client, and verifies the address with the mailed link', async () => {
    const { context, problems } = await contextWithClient(browser)
    const page = await context.newPage()
    const { params } = authorizationParams({
      state: 'signup',
      scope: 'openid email offline_access',
    })
    await page.goto(`${t.url}/authorize?${params}`)
    await page.click('text=Create an account')
    await page.waitForSelector('#email')
    const from = smtp.messages.length
    await page.fill('#email', 'linus@example.test')
    await page.fill('#password', 'penguins on ice floes')
    await page.click('button[type=submit]')
    await page.waitForSelector('#client')
    const callback = new URL(page.url())
    expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)
    expect(callback.searchParams.get('code')).toBeTruthy()

    const mail = await smtp.next((m) => m.subject === 'Confirm your email address', from)
    await page.goto(TestSmtp.link(mail, ACCOUNT_PATHS.verifyEmail))
    expect(await page.textContent('h1')).toBe('Address verified')
    await page.goto(t.url + ACCOUNT_PATHS.accountPage)
    expect(await page.textContent('#email-status')).toBe('(verified)')
    const [user] = await t.store.getUsersByEmail('linus@example.test')
    expect(user?.emailVerifiedAt).not.toBeNull()
    expect(problems).toEqual([])
    await context.close()
  })

  it('resets a forgotten password with the mailed link, then signs in with the new one', async () => {
    await t.createUser('margaret')
    const { context, problems } = await contextWithClient(browser)
    const page = await context.newPage()
    const { params } = authorizationParams({ state: 'reset' })
    await page.goto(`${t.url}/authorize?${params}`)
    await page.click('text=Forgot your password?')
    await page.waitForSelector('#email')
    const from = smtp.messages.length
    await page.fill('#email', 'margaret@example.test')
    await page.click('button[type=submit]')
    expect(await page.textContent('h1')).toBe('Check your mail')

    const mail = await smtp.next((m) => m.subject === 'Reset your password', from)
    await page.goto(TestSmtp.link(mail, ACCOUNT_PATHS.resetPassword))
    await page.fill('#password', 'apollo guidance computer')
    await page.click('button[type=submit]')
    expect(await page.textContent('h1')).toBe('Password changed')

    const again = authorizationParams({ state: 'after-reset' })
    await page.goto(`${t.url}/authorize?${again.params}`)
    await page.fill('#username', 'margaret')
    await page.fill('#password', 'apollo guidance computer')
    await page.click('button[type=submit]')
    await page.waitForSelector('#client')
    expect(new URL(page.url()).searchParams.get('state')).toBe('after-reset')
    expect(problems).toEqual([])
    await context.close()
  })
})
