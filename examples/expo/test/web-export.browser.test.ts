/**
 * The Expo example's web build end to end: Expo's own web export (Metro, react-native-web) of
 * the app, pointed at this test's servers through `EXPO_PUBLIC_*` variables, served as static
 * files on loopback and run in Chromium against a real Tessera server with the dev server's demo
 * client and APIs (`dev` on) and the example's API server (@tessera/verify, one audience per API).
 *
 * Signed out, a protected route sends the user to the app's sign-in screen with `returnTo`; the
 * hosted sign-in brings them back to that route; both APIs answer with tokens for their own
 * audience; sign-out leads back to sign-in, and a reload stays signed out.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_APIS, DEMO_CLIENT_ID, demoClient } from '../../../packages/server/src/dev/demo.js'
import { signInTokens } from '../../../packages/server/test/helpers/grants.js'
import { launchChromium } from '../../../packages/server/test/helpers/chromium.js'
import {
  startTestServer,
  type TestServer,
} from '../../../packages/server/test/helpers/test-server.js'
import { ALICE } from '../../../packages/server/test/interop/hosted-sign-in.js'
import { AUDIENCES, startApiServer, type ApiServer } from '../api/server.js'
import { serveStatic } from './static-server.js'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
const EXPO_CLI = fileURLToPath(new URL('../../../node_modules/expo/bin/cli', import.meta.url))

let out: string
let web: Awaited<ReturnType<typeof serveStatic>>
let t: TestServer
let api: ApiServer
let browser: Browser
let aliceId: string

/** `expo export` with the servers' URLs; offline, no telemetry, no prompts. */
function expoExport(
  platform: 'web' | 'android',
  dir: string,
  env: Record<string, string>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [EXPO_CLI, 'export', '--platform', platform, '--output-dir', dir, '--clear'],
      {
        cwd: APP_DIR,
        env: { ...process.env, CI: '1', EXPO_OFFLINE: '1', EXPO_NO_TELEMETRY: '1', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let log = ''
    child.stdout.on('data', (d: Buffer) => (log += d.toString()))
    child.stderr.on('data', (d: Buffer) => (log += d.toString()))
    child.once('error', reject)
    child.once('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`expo export exited ${code}:\n${log.slice(-4000)}`)),
    )
  })
}

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'tessera-expo-web-'))
  web = await serveStatic(out)
  const demo = demoClient('http://localhost:4000')
  t = await startTestServer({
    config: { dev: true },
    apis: [...DEMO_APIS],
    // The demo client of `tessera dev`, with this test page's origin as a redirect URI (the dev
    // server registers http://localhost:8081/callback, Expo's web port).
    clients: [
      {
        ...demo,
        redirectUris: [...(demo.redirectUris ?? []), web.url + '/callback'],
        postLogoutRedirectUris: [...(demo.postLogoutRedirectUris ?? []), web.url + '/'],
      },
    ],
  })
  t.clock.set(Date.now())
  aliceId = (await t.createUser(ALICE.username, ALICE.password, { plan: 'pro' })).id
  api = await startApiServer({ issuer: t.url, port: 0 })
  await expoExport('web', out, {
    EXPO_PUBLIC_TESSERA_ISSUER: t.url,
    EXPO_PUBLIC_TESSERA_CLIENT_ID: DEMO_CLIENT_ID,
    EXPO_PUBLIC_API_URL: api.url,
  })
  browser = await launchChromium()
}, 600_000)

afterAll(async () => {
  await browser?.close()
  await api?.close()
  await t?.close()
  await web?.close()
  if (out) rmSync(out, { recursive: true, force: true })
})

const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`)

describe('examples/expo: the web export in Chromium against Tessera', () => {
  it('guard -> sign-in with returnTo -> hosted sign-in -> back to the route; both APIs answer; sign-out', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))

    // 1. Signed out, straight to a protected route: the guard waits for the stored session, then
    //    sends the user to the app's sign-in screen with where they were going.
    await page.goto(web.url + '/session')
    await byTestId(page, 'sign-in').waitFor()
    const signInUrl = new URL(page.url())
    expect(signInUrl.pathname).toBe('/sign-in')
    expect(signInUrl.searchParams.get('returnTo')).toBe('/session')
    expect(await byTestId(page, 'session-status').count()).toBe(0)

    // 2. The hosted sign-in page of Tessera, then back through /callback to /session.
    await page.click('[data-testid="sign-in"]')
    await page.waitForURL((u) => u.origin === t.url && u.pathname === '/login')
    await page.fill('#username', ALICE.username)
    await page.fill('#password', ALICE.password)
    await Promise.all([
      page.waitForURL((u) => u.origin === web.url && u.pathname === '/session'),
      page.click('button[type=submit]'),
    ])
    await expect.poll(() => byTestId(page, 'detail-status').textContent()).toBe('status: signed-in')

    // 3. Home: the user, the session status, no biometrics on the web; both APIs.
    await page.click('[data-testid="home-link"]')
    await byTestId(page, 'user').waitFor()
    expect(await byTestId(page, 'user-id').textContent()).toContain(aliceId)
    expect(await byTestId(page, 'session-status').textContent()).toBe('signed-in')
    const sessionId = (await byTestId(page, 'session-id').textContent())!.replace('session ', '')
    expect((await t.store.getSession(sessionId))?.state).toBe('active')
    expect(await byTestId(page, 'no-biometrics').count()).toBe(1)

    await page.click('[data-testid="call-orders"]')
    await expect.poll(() => byTestId(page, 'orders-answer').textContent()).toMatch(/^\{/)
    expect(JSON.parse((await byTestId(page, 'orders-answer').textContent())!)).toEqual({
      api: 'orders',
      customer: aliceId,
      orders: [{ id: 'A-1001', total: '42.00 EUR' }],
    })
    await page.click('[data-testid="call-billing"]')
    await expect.poll(() => byTestId(page, 'billing-answer').textContent()).toMatch(/^\{/)
    expect(JSON.parse((await byTestId(page, 'billing-answer').textContent())!)).toEqual({
      api: 'billing',
      customer: aliceId,
      plan: 'pro',
      invoices: 3,
    })

    // 4. Sign-out: the session ends here and at Tessera (its end-session endpoint), the browser
    //    comes back to the app, signed out; a reload stays signed out.
    const documents: string[] = []
    page.on('request', (r) => {
      if (r.isNavigationRequest()) documents.push(new URL(r.url()).origin)
    })
    await page.click('[data-testid="sign-out"]')
    // Tessera's end-session page, then the app again.
    await expect
      .poll(
        () =>
          documents.includes(t.url) && documents.slice(documents.indexOf(t.url)).includes(web.url),
        {
          timeout: 30_000,
        },
      )
      .toBe(true)
    await page.waitForURL((u) => u.origin === web.url && u.pathname === '/sign-in')
    await byTestId(page, 'sign-in').waitFor()
    expect((await t.store.getSession(sessionId))?.state).not.toBe('active')
    await page.reload()
    await byTestId(page, 'sign-in').waitFor()
    expect(await byTestId(page, 'user').count()).toBe(0)
    expect(errors).toEqual([])
    await context.close()
  }, 120_000)

  it('each demo API takes only a token for its own audience', async () => {
    const user = (await t.store.getUser(aliceId))!
    const tokens = await signInTokens(t, user, {
      clientId: DEMO_CLIENT_ID,
      scope: 'openid orders:read',
      resource: AUDIENCES.orders,
    })
    expect(tokens.status).toBe(200)
    const get = (path: string) =>
      fetch(api.url + path, { headers: { authorization: `Bearer ${tokens.body.access_token}` } })
    expect((await get('/orders/summary')).status).toBe(200)
    expect((await get('/billing/summary')).status).toBe(401)
    expect((await fetch(api.url + '/orders/summary')).status).toBe(401)
  })
})

describe('examples/expo: the native build', () => {
  it('bundles for Android as Hermes bytecode (secure store, lifecycle, Hermes crypto, gate)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-expo-android-'))
    try {
      await expoExport('android', dir, {})
      const js = join(dir, '_expo', 'static', 'js', 'android')
      const [bundle, ...more] = readdirSync(js)
      expect(more).toEqual([])
      expect(bundle).toMatch(/\.hbc$/)
      // Hermes bytecode's magic number, little-endian
      const bytes = readFileSync(join(js, bundle!))
      expect(bytes.subarray(0, 8).toString('hex')).toBe('c61fbc03c103191f')
      // the native set-up (src/tessera.native.ts), not the web one
      expect(bytes.includes('Unlock the Tessera example')).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)
})
