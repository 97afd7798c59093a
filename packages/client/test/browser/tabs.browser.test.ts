/**
 * The client in Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real
 * Tessera server: the user signs in through the hosted form in a tab; tabs of one origin share
 * one session through IndexedDB, refresh under one Web Lock (or the localStorage fallback), hear
 * sign-outs over BroadcastChannel, and a reload in the middle of a refresh keeps the session.
 * Refreshes are counted twice: by the browser's requests and in the server's store.
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

let t: TestServer
let pages: PageServer
let browser: Browser

beforeAll(async () => {
  pages = new PageServer()
  const origin = await pages.start()
  const web = defaultClients.find((c) => c.id === 'web-app')!
  t = await startTestServer({
    clients: [
      ...defaultClients,
      {
        ...web,
        id: 'browser-app',
        redirectUris: [origin + '/callback'],
        postLogoutRedirectUris: [origin + '/signed-out'],
      },
    ],
  })
  t.clock.set(Date.now())
  await t.createUser(ALICE.username, ALICE.password)
  pages.config = { issuer: t.url, clientId: 'browser-app', apiA: API_A, autoRefresh: false }
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await t?.close()
  await pages?.close()
})

/** Refresh requests the browser sent in `context`. */
function countRefreshes(context: BrowserContext): { refreshes: string[] } {
  const seen = { refreshes: [] as string[] }
  context.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === t.url + '/oauth/token') {
      const body = new URLSearchParams(req.postData() ?? '')
      if (body.get('grant_type') === 'refresh_token')
        seen.refreshes.push(body.get('refresh_token')!)
    }
  })
  return seen
}

async function openTab(context: BrowserContext, query = ''): Promise<Page> {
  const page = await context.newPage()
  await page.goto(pages.url + '/' + query)
  await page.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
  return page
}

/** Signs in through the hosted form in `page`, then opens the app with `query`, if any. */
async function signInInTab(page: Page, query = ''): Promise<void> {
  await signInInTabOf(page, pages.url)
  if (query) await page.goto(pages.url + '/' + query)
}

async function sessionRow(page: Page) {
  const sid = await page.evaluate(() => window.tessera.getSnapshot().sessionId)
  const row = await t.store.getSession(sid!)
  if (!row) throw new Error('no session row')
  return row
}

const shift = (page: Page, ms: number) => page.evaluate((v) => (window.__shift = v), ms)

describe('Chromium: IndexedDB storage', () => {
  it('indexedDbStorage passes the storage conformance suite, persistence across instances included', async () => {
    const context = await browser.newContext()
    const tab = await openTab(context)
    expect(await tab.evaluate(() => window.__conformance())).toEqual([])
    // The refresh token never lands in localStorage.
    await signInInTab(tab)
    await tab.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
    const local = await tab.evaluate(() => JSON.stringify({ ...window.localStorage }))
    expect(local).not.toContain('tsr_')
    await context.close()
  })
})

describe('Chromium: tabs of one origin', () => {
  for (const query of ['', '?nolocks=1']) {
    const how = query ? 'localStorage lease and storage events (no Web Locks)' : 'Web Locks'
    it(`SDK-01 three tabs with an expired token make exactly one refresh (${how})`, async () => {
      const context = await browser.newContext()
      const seen = countRefreshes(context)
      const tab1 = await openTab(context, query)
      await signInInTab(tab1, query)
      await tab1.waitForFunction(() => window.tessera?.getSnapshot().status === 'signed-in')
      await tab1.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
      const tab2 = await openTab(context, query)
      const tab3 = await openTab(context, query)
      const tabs = [tab1, tab2, tab3]
      expect(await tab2.evaluate(() => navigator.locks === undefined)).toBe(query !== '')
      for (const p of tabs) {
        expect(await p.evaluate(() => window.tessera.getSnapshot().status)).toBe('signed-in')
      }
      expect(seen.refreshes).toHaveLength(1)
      const before = await sessionRow(tab1)

      t.clock.advance(16 * 60_000)
      for (const p of tabs) await shift(p, 16 * 60_000)
      const tokens = await Promise.all(
        tabs.map((p) => p.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)),
      )
      expect(new Set(tokens).size).toBe(1)
      expect(seen.refreshes).toHaveLength(2)
      const after = await sessionRow(tab1)
      expect(after.generation).toBe(before.generation + 1)
      expect(after.graceUses).toBe(0)
      // The waiting tabs took the new token from storage after the lock.
      const waits = await Promise.all(
        tabs.map((p) =>
          p.evaluate(() => window.__events.filter((e) => e.type === 'refresh_start').length),
        ),
      )
      expect(waits.reduce((a, b) => a + b, 0)).toBe(2)
      await context.close()
      t.clock.set(Date.now())
    })
  }

  it('sign-out in one tab signs out the others (BroadcastChannel); storage is empty and the session revoked', async () => {
    const context = await browser.newContext()
    const tab1 = await openTab(context)
    await signInInTab(tab1)
    const tab2 = await openTab(context)
    const tab3 = await openTab(context)
    expect(await tab2.evaluate(() => window.tessera.getSnapshot().status)).toBe('signed-in')
    const row = await sessionRow(tab1)
    await tab1.evaluate(() => window.tessera.signOut({ navigate: false }))
    for (const p of [tab2, tab3]) {
      await p.waitForFunction(() => window.tessera.getSnapshot().status === 'signed-out')
      expect(await p.evaluate(() => window.tessera.getSnapshot().reason)).toBe('other_tab')
    }
    // A new tab finds nothing in storage.
    const tab4 = await openTab(context)
    expect(await tab4.evaluate(() => window.tessera.getSnapshot().reason)).toBe('initial')
    expect((await t.store.getSession(row.id))?.state).toBe('revoked')
    await context.close()
  })

  it('SDK-02 a reload in the middle of a refresh does not sign the user out: the next load retries inside the grace window', async () => {
    const context = await browser.newContext()
    const seen = countRefreshes(context)
    const tab = await openTab(context)
    await signInInTab(tab)
    const before = await sessionRow(tab)
    // Hold the refresh response: the server has rotated, the page reloads before it sees the answer.
    let held = false
    await tab.route(t.url + '/oauth/token', async (route) => {
      const body = new URLSearchParams(route.request().postData() ?? '')
      if (held || body.get('grant_type') !== 'refresh_token') return route.continue()
      held = true
      await route.fetch() // reaches the server, which rotates
      await tab.reload()
    })
    void tab.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A).catch(() => {})
    await expect.poll(() => held).toBe(true)
    await tab.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
    await tab.waitForFunction(
      () =>
        window.tessera.getSnapshot().status === 'signed-in' &&
        window.__events.some((e) => e.type === 'refresh_end' && e.ok),
    )
    expect(await tab.evaluate(() => window.tessera.getSnapshot().isSignedIn)).toBe(true)
    const after = await sessionRow(tab)
    expect(after.state).toBe('active')
    expect(after.generation).toBe(before.generation + 1)
    expect(after.graceUses).toBe(1)
    // Both requests presented the same refresh token; the second converged on the current one.
    expect(seen.refreshes).toHaveLength(2)
    expect(seen.refreshes[0]).toBe(seen.refreshes[1])
    const token = await tab.evaluate((aud) => window.tessera.getToken({ audience: aud }), API_A)
    expect(token).toMatch(/^ey/)
    expect(seen.refreshes).toHaveLength(2)
    await context.close()
  })
})
