import { decodeJwt } from 'jose'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { contextWithClient, launchChromium } from '../helpers/chromium.js'
import { codeForm, postForm } from '../helpers/grants.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'

/**
 * The hosted sign-in and the logout confirmation in Chromium, with the client on another origin
 * (https://app.example.test, answered by Playwright's interception, which sees only requests the
 * browser really sends). Chromium enforces `form-action` on the redirects after a form POST, so
 * these show that the pages' CSP lets their forms reach the client, and SES-16 end to end.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const SIGNED_OUT = 'https://app.example.test/signed-out'

let t: TestServer
let browser: Browser
beforeAll(async () => {
  t = await startTestServer()
  await t.createUser()
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
})

/** Signs alice in through the hosted form; returns the page (at the client) and her tokens. */
async function signInInChromium(context: BrowserContext) {
  const page = await context.newPage()
  const { params, codeVerifier } = authorizationParams({ state: 'chromium' })
  await page.goto(`${t.url}/authorize?${params}`)
  await page.waitForSelector('#username')
  await page.fill('#username', 'alice')
  await page.fill('#password', 'correct horse battery')
  await page.click('button[type=submit]')
  await page.waitForSelector('#client')
  const callback = new URL(page.url())
  expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)
  const code = callback.searchParams.get('code')!
  const r = await postForm(
    t.url + '/oauth/token',
    codeForm({ code, verifier: codeVerifier, redirectUri: WEB_REDIRECT, clientId: 'web-app' }),
  )
  expect(r.status).toBe(200)
  const idToken = r.body.id_token as string
  return { page, idToken, sid: decodeJwt(idToken).sid as string }
}

const logoutUrl = (hint: string) =>
  `${t.url}/logout?${new URLSearchParams({ id_token_hint: hint, post_logout_redirect_uri: SIGNED_OUT, state: 's16' })}`

async function sessionState(sid: string): Promise<string | undefined> {
  return (await t.store.getSession(sid))?.state
}

async function atConfirmation(page: Page, hint: string): Promise<void> {
  await page.goto(logoutUrl(hint))
  expect(await page.textContent('h1')).toBe('Sign out?')
}

describe('sign-in and logout pages in Chromium', () => {
  it('form-action: the sign-in form posts and its 303 reaches the client on another origin', async () => {
    const { context, problems } = await contextWithClient(browser)
    try {
      const { page } = await signInInChromium(context)
      expect(new URL(page.url()).searchParams.get('state')).toBe('chromium')
      expect(problems).toEqual([])
    } finally {
      await context.close()
    }
  })

  it('SES-16 another browser with the hint: declining ends nothing, confirming ends the session; both return to the client', async () => {
    const owner = await contextWithClient(browser)
    const other = await contextWithClient(browser)
    try {
      const { idToken, sid } = await signInInChromium(owner.context)
      const page = await other.context.newPage()

      await atConfirmation(page, idToken)
      expect(await sessionState(sid)).toBe('active')
      await page.click('button[value=no]')
      await page.waitForSelector('#client')
      expect(page.url()).toBe(`${SIGNED_OUT}?state=s16`)
      expect(await sessionState(sid)).toBe('active')

      await atConfirmation(page, idToken)
      await page.click('button[value=yes]')
      await page.waitForSelector('#client')
      expect(page.url()).toBe(`${SIGNED_OUT}?state=s16`)
      expect(await t.store.getSession(sid)).toMatchObject({ state: 'ended', reason: 'sign_out' })
      expect(other.problems).toEqual([])
    } finally {
      await owner.context.close()
      await other.context.close()
    }
  })

  it("SES-16 the owner's browser signs out at once with its own hint, no prompt", async () => {
    const { context, problems } = await contextWithClient(browser)
    try {
      const { page, idToken, sid } = await signInInChromium(context)
      await page.goto(`${t.url}/logout?${new URLSearchParams({ id_token_hint: idToken })}`)
      expect(await page.textContent('h1')).toBe('Signed out')
      expect(await page.textContent('p')).toBe('You are signed out. You can close this page.')
      expect(await sessionState(sid)).toBe('ended')
      expect((await context.cookies()).map((c) => c.name)).not.toContain('tessera_sso')
      expect(problems).toEqual([])
    } finally {
      await context.close()
    }
  })
})
