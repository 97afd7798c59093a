/**
 * Cookie mode in Chromium, with real cookies: the app is served from one loopback origin and
 * Tessera from another (`http://127.0.0.1:A` and `http://127.0.0.1:B` are same-site, as
 * `app.example.com` and `auth.example.com` would be). The client (`refreshTokenDelivery:
 * 'cookie'`, IndexedDB storage, Web Locks) signs in through the hosted form and refreshes; the
 * refresh token lives only in Tessera's HttpOnly SameSite=Strict cookie, never in
 * `document.cookie`, IndexedDB, localStorage, sessionStorage or a request body. Three tabs with an
 * expired token still make one refresh, sign-out clears the cookie, and a page on a same-site
 * origin the client did not register cannot use the cookie. Counted in the browser's requests and
 * in the server's store.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchChromium } from '../../../server/test/helpers/chromium.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  API_A,
  defaultClients,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/test-server.js'
import { ALICE } from '../../../server/test/interop/hosted-sign-in.js'
import { PageServer } from './page-server.js'
import { signInInTab as signInInTabOf } from './sign-in-tab.js'

const CLIENT = 'cookie-browser-app'
const COOKIE_PREFIX = `tessera_rt_${CLIENT}_`

let t: TestServer
let app: PageServer
/** A same-site page the client did not register (a sibling subdomain, in production). */
let sibling: PageServer
let browser: Browser

beforeAll(async () => {
  app = new PageServer()
  sibling = new PageServer()
  const origin = await app.start()
  await sibling.start()
  const web = defaultClients.find((c) => c.id === 'web-app')!
  t = await startTestServer({
    clients: [
      ...defaultClients,
      {
        ...web,
        id: CLIENT,
        redirectUris: [origin + '/callback'],
        postLogoutRedirectUris: [origin + '/signed-out'],
        refreshTokenDelivery: 'cookie',
        webOrigins: [origin],
      },
    ],
  })
  t.clock.set(Date.now())
  await t.createUser(ALICE.username, ALICE.password)
  const config = {
    issuer: t.url,
    clientId: CLIENT,
    apiA: API_A,
    autoRefresh: false,
    refreshTokenDelivery: 'cookie',
  }
  app.config = config
  sibling.config = config
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await t?.close()
  await app?.close()
  await sibling?.close()
})

/** Token-endpoint POSTs the browser sent in `context`, with their bodies and Cookie headers. */
function watchTokenRequests(context: BrowserContext) {
  const seen = { refreshes: 0, bodies: [] as string[], cookieHeaders: [] as string[] }
  context.on('request', (req) => {
    if (req.method() !== 'POST' || !req.url().startsWith(t.url + '/oauth/')) return
    const body = req.postData() ?? ''
    seen.bodies.push(body)
    if (new URLSearchParams(body).get('grant_type') === 'refresh_token') seen.refreshes++
    void req.allHeaders().then((h) => {
      if (h.cookie) seen.cookieHeaders.push(h.cookie)
    })
  })
  return seen
}

async function openTab(context: BrowserContext, origin = app.url): Promise<Page> {
  const page = await context.newPage()
  await page.goto(origin + '/')
  await page.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
  return page
}

const signInInTab = (page: Page) => signInInTabOf(page, app.url)

async function sessionRow(page: Page) {
  const sid = await page.evaluate(() => window.tessera.getSnapshot().sessionId)
  const row = await t.store.getSession(sid!)
  if (!row) throw new Error('no session row')
  return row
}

/** The refresh cookies the browser holds for Tessera's origin. */
async function refreshCookies(context: BrowserContext) {
  return (await context.cookies(t.url)).filter((c) => c.name.startsWith(COOKIE_PREFIX))
}

/** Everything page scripts of `page` can read, as one string. */
function scriptVisibleState(page: Page): Promise<string> {
  return page.evaluate(async () =>
    JSON.stringify({
      cookie: document.cookie,
      local: { ...window.localStorage },
      session: { ...window.sessionStorage },
      indexedDb: await window.__indexedDbDump(),
      snapshot: window.tessera.getSnapshot(),
    }),
  )
}

const shift = (page: Page, ms: number) => page.evaluate((v) => (window.__shift = v), ms)

describe('Chromium: refresh token in an HttpOnly cookie (app and server on two same-site origins)', () => {
  it('SDK-05 sign-in and refresh: the refresh token lives only in the HttpOnly SameSite=Strict cookie, never where scripts or request bodies see it', async () => {
    const context = await browser.newContext()
    const seen = watchTokenRequests(context)
    const tab = await openTab(context)
    await signInInTab(tab)
    const token = await tab.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
    expect(token).toMatch(/^ey/)
    expect(seen.refreshes).toBe(1)
    expect((await sessionRow(tab)).generation).toBe(1)

    const cookies = await refreshCookies(context)
    expect(cookies).toHaveLength(1)
    expect(cookies[0]).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' })
    expect(cookies[0]!.value).toMatch(/^tsr_/)
    // The cookie went out with the refresh (same-site), and no body carried a refresh token.
    await expect.poll(() => seen.cookieHeaders.some((h) => h.includes('tsr_'))).toBe(true)
    for (const b of seen.bodies) expect(b).not.toContain('tsr_')
    expect(seen.bodies.some((b) => new URLSearchParams(b).has('refresh_token'))).toBe(false)

    // Nothing a script can read holds it: not the app's origin, and not even a page of
    // Tessera's own origin (HttpOnly).
    expect(await scriptVisibleState(tab)).not.toContain('tsr_')
    const own = await context.newPage()
    await own.goto(t.url + '/healthz')
    expect(await own.evaluate(() => document.cookie)).not.toContain('tsr_')
    await context.close()
  })

  it('SDK-01 three tabs with an expired token make exactly one refresh through the cookie', async () => {
    const context = await browser.newContext()
    const seen = watchTokenRequests(context)
    const tab1 = await openTab(context)
    await signInInTab(tab1)
    await tab1.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
    const tab2 = await openTab(context)
    const tab3 = await openTab(context)
    const tabs = [tab1, tab2, tab3]
    for (const p of tabs) {
      expect(await p.evaluate(() => window.tessera.getSnapshot().status)).toBe('signed-in')
    }
    expect(seen.refreshes).toBe(1)
    const before = await sessionRow(tab1)
    const cookieBefore = (await refreshCookies(context))[0]!.value

    t.clock.advance(16 * 60_000)
    for (const p of tabs) await shift(p, 16 * 60_000)
    const tokens = await Promise.all(
      tabs.map((p) => p.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)),
    )
    expect(new Set(tokens).size).toBe(1)
    expect(seen.refreshes).toBe(2)
    const after = await sessionRow(tab1)
    expect(after.generation).toBe(before.generation + 1)
    expect(after.graceUses).toBe(0)
    expect((await refreshCookies(context))[0]!.value).not.toBe(cookieBefore)
    for (const p of tabs) expect(await scriptVisibleState(p)).not.toContain('tsr_')
    await context.close()
    t.clock.set(Date.now())
  })

  it('SES-08 sign-out revokes the session and clears the cookie', async () => {
    const context = await browser.newContext()
    const tab = await openTab(context)
    await signInInTab(tab)
    const row = await sessionRow(tab)
    expect(await refreshCookies(context)).toHaveLength(1)
    await tab.evaluate(() => window.tessera.signOut({ navigate: false }))
    expect(await tab.evaluate(() => window.tessera.getSnapshot().status)).toBe('signed-out')
    expect(await refreshCookies(context)).toEqual([])
    expect(await t.store.getSession(row.id)).toMatchObject({
      state: 'revoked',
      reason: 'token_revocation',
    })
    await context.close()
  })

  it('CSRF: a same-site page the client did not register cannot refresh or revoke with the cookie', async () => {
    const context = await browser.newContext()
    const tab = await openTab(context)
    await signInInTab(tab)
    const before = await sessionRow(tab)
    const evil = await openTab(context, sibling.url)
    // What Chromium really sent, cookies included (Playwright hides them for blocked requests).
    const cdp = await context.newCDPSession(evil)
    const sent: { cookie: string }[] = []
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => {
      sent.push({ cookie: (e.headers as Record<string, string | undefined>)['Cookie'] ?? '' })
    })
    await cdp.send('Network.enable')
    const attempts = await evil.evaluate(async (issuer) => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' }
      const tryFetch = (path: string, headers: Record<string, string>, body: string) =>
        fetch(issuer + path, { method: 'POST', credentials: 'include', headers, body }).then(
          (r) => `status ${r.status}`,
          (e: Error) => `blocked: ${e.name}`,
        )
      return [
        // With the header: the preflight gives this origin no credentials; nothing is sent.
        await tryFetch(
          '/oauth/token',
          { ...form, 'tessera-refresh-cookie': '1' },
          'grant_type=refresh_token&client_id=cookie-browser-app',
        ),
        // Without it (a simple request, sent with the same-site cookie): refused by the server,
        // and the answer is unreadable.
        await tryFetch(
          '/oauth/token',
          form,
          'grant_type=refresh_token&client_id=cookie-browser-app',
        ),
        await tryFetch('/oauth/revoke', form, 'client_id=cookie-browser-app'),
      ]
    }, t.url)
    expect(attempts).toEqual(['blocked: TypeError', 'blocked: TypeError', 'blocked: TypeError'])
    // The two simple requests did reach the server with the app's cookie (same-site, so
    // SameSite=Strict does not stop them): the server refused them (Origin check; and the
    // cookie is looked up under the request origin's name), not the browser.
    await expect.poll(() => sent.filter((r) => r.cookie.includes('tsr_'))).toHaveLength(2)
    expect(await sessionRow(tab)).toEqual(before)
    expect(await refreshCookies(context)).toHaveLength(1)
    // The app still refreshes.
    const token = await tab.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
    expect(token).toMatch(/^ey/)
    await context.close()
  })
})
