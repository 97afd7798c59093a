/**
 * DPoP in Chromium with `browserDpop()`: the key pair is made non-extractable and kept in
 * IndexedDB, so it survives a reload (same thumbprint) and the refresh token bound to it keeps
 * working, while no script can export the private key; sign-out deletes it. Against a real
 * Tessera server (the client registered `dpop: 'required'`) and an API checked by
 * @tessera/verify, both cross-origin to the page.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../../../server/test/helpers/chromium.js'
import { postForm } from '../../../server/test/helpers/grants.js'
import {
  defaultApis,
  defaultClients,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/test-server.js'
import { ALICE } from '../../../server/test/interop/hosted-sign-in.js'
import { VerifiedApi } from '../helpers/verified-api.js'
import { PageServer } from './page-server.js'
import { signInInTab } from './sign-in-tab.js'

let t: TestServer
let pages: PageServer
let api: VerifiedApi
let browser: Browser

beforeAll(async () => {
  pages = new PageServer()
  const origin = await pages.start()
  api = new VerifiedApi()
  await api.start(() => t.url)
  const web = defaultClients.find((c) => c.id === 'web-app')!
  t = await startTestServer({
    apis: [...defaultApis, { audience: api.url, name: 'Verified API', scopes: ['read'] }],
    clients: [
      ...defaultClients,
      {
        ...web,
        id: 'dpop-app',
        redirectUris: [origin + '/callback'],
        audiences: [api.url],
        dpop: 'required',
      },
    ],
  })
  t.clock.set(Date.now())
  await t.createUser(ALICE.username, ALICE.password)
  pages.config = {
    issuer: t.url,
    clientId: 'dpop-app',
    apiA: api.url,
    autoRefresh: false,
    dpop: true,
  }
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await t?.close()
  await api?.close()
  await pages?.close()
})

async function openTab(context: BrowserContext): Promise<Page> {
  const page = await context.newPage()
  await page.goto(pages.url + '/')
  await page.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
  return page
}

/** Refresh requests the browser sent in `context`, with whether they carried a DPoP proof. */
function countRefreshes(context: BrowserContext): { dpop: boolean }[] {
  const seen: { dpop: boolean }[] = []
  context.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === t.url + '/oauth/token') {
      const body = new URLSearchParams(req.postData() ?? '')
      if (body.get('grant_type') === 'refresh_token') {
        seen.push({ dpop: req.headers()['dpop'] !== undefined })
      }
    }
  })
  return seen
}

const callApi = (page: Page) =>
  page.evaluate(async (url) => {
    const res = await window.tessera.fetch(url + '/orders')
    return { status: res.status, body: (await res.json()) as { jkt: string | null } }
  }, api.url)

describe('Chromium: browserDpop()', () => {
  it('the key is non-extractable, survives a reload with the same thumbprint, and the bound refresh token still works after it', async () => {
    const context = await browser.newContext()
    const refreshes = countRefreshes(context)
    const tab = await openTab(context)
    await signInInTab(tab, pages.url)
    const keys = await tab.evaluate(() => window.__dpopKeys())
    expect(keys).toHaveLength(1)
    const [key] = keys
    expect(key!.privateExtractable).toBe(false)
    expect(key!.privateExport).toBe('InvalidAccessError')
    const first = await callApi(tab)
    expect(first).toEqual({ status: 200, body: { sub: expect.any(String), jkt: key!.jkt } })

    await tab.reload()
    await tab.waitForFunction(() => window.tessera?.getSnapshot().status === 'signed-in')
    expect(await tab.evaluate(() => window.__dpopKeys())).toEqual(keys)
    // Make the cached token unusable, so the next call refreshes with the key from IndexedDB.
    const before = refreshes.length
    await tab.evaluate(async (aud) => {
      window.tessera.invalidateToken(await window.tessera.getToken({ audience: aud }))
    }, api.url)
    const after = await callApi(tab)
    expect(after).toEqual({ status: 200, body: { sub: expect.any(String), jkt: key!.jkt } })
    expect(refreshes.slice(before)).toEqual([{ dpop: true }])
    await context.close()
  })

  it('a refresh token stolen from the page storage is refused without the key (RT-18)', async () => {
    const context = await browser.newContext()
    const tab = await openTab(context)
    await signInInTab(tab, pages.url)
    const dump = await tab.evaluate(() => window.__indexedDbDump())
    const stolen = /"refreshToken":"(tsr_[^"]+)"/.exec(dump.replace(/\\"/g, '"'))?.[1]
    expect(stolen).toMatch(/^tsr_/)
    const res = await postForm(`${t.url}/oauth/token`, {
      grant_type: 'refresh_token',
      refresh_token: stolen!,
      client_id: 'dpop-app',
    })
    expect(res.status).toBe(400)
    expect(res.body.error).toBe('invalid_dpop_proof')
    // The owner's session is untouched: the page still calls the API.
    expect((await callApi(tab)).status).toBe(200)
    await context.close()
  })

  it('sign-out deletes the key from IndexedDB; the next sign-in makes a new one', async () => {
    const context = await browser.newContext()
    const tab = await openTab(context)
    await signInInTab(tab, pages.url)
    const [old] = await tab.evaluate(() => window.__dpopKeys())
    await tab.evaluate(() => window.tessera.signOut({ navigate: false }))
    expect(await tab.evaluate(() => window.__dpopKeys())).toEqual([])
    // Signed in again (the server's sign-in cookie may skip the form).
    await tab.evaluate(() => {
      void window.tessera.signIn({ returnTo: '/' })
    })
    await tab.waitForURL((u) => u.pathname === '/login' || u.pathname === '/callback')
    if (new URL(tab.url()).pathname === '/login') {
      await tab.fill('#username', ALICE.username)
      await tab.fill('#password', ALICE.password)
      await Promise.all([
        tab.waitForURL((u) => u.pathname === '/callback'),
        tab.click('button[type=submit]'),
      ])
    }
    expect(await tab.evaluate(() => window.__callback)).toBe('ok')
    const fresh = await tab.evaluate(() => window.__dpopKeys())
    expect(fresh).toHaveLength(1)
    expect(fresh[0]!.jkt).not.toBe(old!.jkt)
    expect((await callApi(tab)).body.jkt).toBe(fresh[0]!.jkt)
    await context.close()
  })
})
