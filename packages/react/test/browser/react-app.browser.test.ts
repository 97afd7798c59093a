/**
 * A real built page in Chromium (Debian's /usr/bin/chromium, playwright-core): the React app of
 * `app.tsx`, bundled with esbuild and served on loopback, against a real Tessera server and an
 * API that verifies its tokens with @tessera/verify. The user opens a guarded page signed out and
 * is sent to the hosted sign-in (the guarded content never rendered, no redirect before load:
 * APP-15), signs in, comes back to the page and sees the API's answer; a reload renders the
 * fallback until the stored session is loaded and redirects nowhere; sign-out in one tab updates
 * the other tab's hooks and ends the session at the server.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../../../server/test/helpers/chromium.js'
import {
  defaultClients,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/test-server.js'
import { ALICE } from '../../../server/test/interop/hosted-sign-in.js'
import { AppServer } from './page-server.js'
import { OrdersApi } from './orders-api.js'

let t: TestServer
let app: AppServer
let api: OrdersApi
let browser: Browser
let aliceId: string

beforeAll(async () => {
  app = new AppServer()
  const origin = await app.start()
  api = new OrdersApi()
  await api.start(() => t.url)
  const web = defaultClients.find((c) => c.id === 'web-app')!
  t = await startTestServer({
    apis: [{ audience: api.url, name: 'Orders', scopes: ['orders'], accessTokenTtlSeconds: 600 }],
    clients: [
      {
        ...web,
        id: 'react-app',
        redirectUris: [origin + '/callback'],
        postLogoutRedirectUris: [origin + '/signed-out'],
        audiences: [api.url],
        scopes: ['openid', 'profile', 'email', 'offline_access', 'orders'],
      },
    ],
  })
  t.clock.set(Date.now())
  aliceId = (await t.createUser(ALICE.username, ALICE.password)).id
  app.config = { issuer: t.url, clientId: 'react-app', api: api.url }
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await t?.close()
  await api?.close()
  await app?.close()
})

/** What the app reported (`fallback:<status>`, `protected:<status>`) and the URLs loaded. */
async function watch(context: BrowserContext) {
  const events: string[] = []
  await context.exposeFunction('__record', (e: string) => events.push(e))
  const documents: string[] = []
  context.on('request', (req) => {
    if (req.isNavigationRequest()) documents.push(req.url())
  })
  return { events, documents }
}

const text = (page: Page, selector: string) => page.locator(selector).textContent()

describe('Chromium: a built React app against Tessera', () => {
  it('APP-15 guard: signed out -> hosted sign-in with returnTo, no flash; signed in -> content; reload -> fallback then content, no redirect; sign-out in one tab signs out the other', async () => {
    const context = await browser.newContext()
    const { events, documents } = await watch(context)
    const page = await context.newPage()

    // 1. Signed out, straight to the guarded page: the guard waits for the stored session
    //    (IndexedDB), then starts the hosted sign-in. The content never renders.
    await page.goto(app.url + '/orders?tab=open')
    await page.waitForURL((u) => u.origin === t.url && u.pathname === '/login')
    expect(events.filter((e) => e.startsWith('protected'))).toEqual([])
    expect(events[0]).toBe('fallback:loading')
    // The first fallback render was before load; the redirect came only after it.
    expect(events).toContain('fallback:signed-out')
    const authorize = documents.filter((u) => new URL(u).pathname === '/authorize')
    expect(authorize).toHaveLength(1)

    // 2. The hosted form; back through /callback to the page the user asked for.
    await page.fill('#username', ALICE.username)
    await page.fill('#password', ALICE.password)
    await Promise.all([
      page.waitForURL((u) => u.origin === app.url && u.pathname === '/orders'),
      page.click('button[type=submit]'),
    ])
    await page.locator('#protected').waitFor()
    expect(new URL(page.url()).search).toBe('?tab=open')
    expect(await text(page, '#user')).toBe(aliceId)
    await expect.poll(() => text(page, '#orders')).toBe(`200 ${api.url}`)
    expect(api.authorizations.at(-1)).toMatch(/^Bearer ey/)
    expect(
      events
        .filter((e) => e.startsWith('protected'))
        .every((e) => e === 'protected:signed-in' || e === 'protected:refreshing'),
    ).toBe(true)

    // 3. Reload: the session is in IndexedDB. The fallback renders while it loads; no redirect.
    events.length = 0
    documents.length = 0
    await page.reload()
    await page.locator('#protected').waitFor()
    expect(events[0]).toBe('fallback:loading')
    const firstProtected = events.findIndex((e) => e.startsWith('protected'))
    expect(events.slice(0, firstProtected).every((e) => e === 'fallback:loading')).toBe(true)
    expect(events.slice(firstProtected).every((e) => !e.startsWith('fallback'))).toBe(true)
    expect(documents.map((u) => new URL(u).origin)).toEqual([app.url])
    expect(await text(page, '#user')).toBe(aliceId)

    // 4. Both tabs on the public page, signed in from the shared storage.
    await page.goto(app.url + '/')
    await page.locator('#home-in').waitFor()
    const other = await context.newPage()
    await other.goto(app.url + '/')
    await other.locator('#home-in').waitFor()
    const sid = await sessionIdOf(other)

    // 5. Sign out in the second tab: it goes through Tessera's end-session to /signed-out; the
    //    first tab's hooks hear it (BroadcastChannel) and show signed out without a reload.
    documents.length = 0
    await Promise.all([
      other.waitForURL((u) => u.origin === app.url && u.pathname === '/signed-out'),
      other.click('#sign-out'),
    ])
    await other.locator('#home-out').waitFor()
    await page.locator('#home-out').waitFor()
    expect(await page.locator('#home-in').count()).toBe(0)
    expect(
      documents.filter((u) => new URL(u).origin === app.url && new URL(u).pathname === '/'),
    ).toEqual([])
    const row = await t.store.getSession(sid)
    expect(row?.state).toBe('revoked')

    // 6. The guarded page again: the hosted form, not a silent sign-in with the ended session.
    await page.goto(app.url + '/orders')
    await page.waitForURL((u) => u.origin === t.url && u.pathname === '/login')
    expect(await page.locator('#username').count()).toBe(1)
    await context.close()
  }, 120_000)
})

/** The session id as the app's storage holds it, read through the public page's client. */
async function sessionIdOf(page: Page): Promise<string> {
  const sid = await page.evaluate(
    () =>
      new Promise<string>((resolve, reject) => {
        const open = indexedDB.open('tessera')
        open.onerror = () => reject(new Error('no IndexedDB'))
        open.onsuccess = () => {
          const all = open.result.transaction('kv').objectStore('kv').getAll()
          all.onsuccess = () => resolve(JSON.stringify(all.result))
        }
      }),
  )
  const m = /"sessionId\\?":\\?"([A-Za-z0-9_-]+)/.exec(sid)
  if (!m) throw new Error('no session id in storage')
  return m[1]!
}
