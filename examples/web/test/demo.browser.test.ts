/**
 * The micro-frontend demo end to end in Chromium: a real Tessera server with the dev server's
 * demo APIs, the demo's own server (shell and three frames on their own localhost origins, each
 * frame's API verifying with @tessera/verify). Sign in once in the shell through the hosted page,
 * every frame shows its API's answer, sign-out clears every frame.
 */
import type { Browser, Frame } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  DEMO_APIS,
  DEMO_SHELL_CLIENT_ID,
  DEMO_WEB,
  demoShellClient,
} from '../../../packages/server/src/dev/demo.js'
import { launchChromium } from '../../../packages/server/test/helpers/chromium.js'
import {
  freePort,
  startTestServer,
  type TestServer,
} from '../../../packages/server/test/helpers/test-server.js'
import { ALICE } from '../../../packages/server/test/interop/hosted-sign-in.js'
import { DEMO_DEFAULTS } from '../src/defaults.js'
import { startDemo, type Demo } from '../src/server.js'

let t: TestServer
let demo: Demo
let browser: Browser
let aliceId: string

beforeAll(async () => {
  const ports = {
    shell: await freePort(),
    orders: await freePort(),
    billing: await freePort(),
    analytics: await freePort(),
  }
  const shell = `http://localhost:${ports.shell}`
  t = await startTestServer({
    apis: [...DEMO_APIS],
    clients: [
      {
        ...demoShellClient(),
        redirectUris: [shell + '/callback'],
        postLogoutRedirectUris: [shell + '/'],
      },
    ],
  })
  t.clock.set(Date.now())
  aliceId = (await t.createUser(ALICE.username, ALICE.password, { plan: 'pro' })).id
  demo = await startDemo({ ...DEMO_DEFAULTS, issuer: t.url, ports })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await demo?.close()
  await t?.close()
})

const answer = (f: Frame) => f.locator('#answer').textContent()

describe('examples/web', () => {
  it('the defaults are what the dev server registers', () => {
    expect(DEMO_DEFAULTS.clientId).toBe(DEMO_SHELL_CLIENT_ID)
    expect(`http://localhost:${DEMO_DEFAULTS.ports.shell}`).toBe(DEMO_WEB.shell)
    for (const name of ['orders', 'billing', 'analytics'] as const) {
      expect(`http://localhost:${DEMO_DEFAULTS.ports[name]}`).toBe(DEMO_WEB.frames[name].origin)
      expect(DEMO_DEFAULTS.audiences[name]).toBe(DEMO_WEB.frames[name].audience)
      expect(DEMO_APIS.map((a) => a.audience)).toContain(DEMO_DEFAULTS.audiences[name])
    }
  })

  it('sign in once in the shell: every frame shows its API answer; sign-out clears every frame', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(demo.config.shell + '/')
    const frames = ['orders', 'billing', 'analytics'].map((n) => page.frame({ name: n })!)
    for (const f of frames) {
      await f.waitForFunction(() => document.body.dataset.status === 'signed-out')
      expect(await answer(f)).toBe('Signed out: sign in in the shell.')
    }
    await page.click('#sign-in')
    await page.waitForURL((u) => u.pathname === '/login')
    await page.fill('#username', ALICE.username)
    await page.fill('#password', ALICE.password)
    await page.click('button[type=submit]')
    await page.waitForURL(demo.config.shell + '/')
    await expect.poll(() => page.textContent('#status')).toBe(`Signed in as ${ALICE.username}`)

    const [orders, billing, analytics] = await Promise.all(
      ['orders', 'billing', 'analytics'].map(async (n) => {
        const f = page.frame({ name: n })!
        await f.waitForFunction(() =>
          document.querySelector('#answer')!.textContent.startsWith('{'),
        )
        return JSON.parse((await answer(f))!)
      }),
    )
    expect(orders).toEqual({ customer: aliceId, orders: [{ id: 'A-1001', total: '42.00 EUR' }] })
    expect(billing).toEqual({ customer: aliceId, plan: 'pro', invoices: 3 })
    expect(analytics).toEqual({ customer: aliceId, visitsThisWeek: 17 })

    await page.click('#sign-out')
    for (const n of ['orders', 'billing', 'analytics']) {
      const f = page.frame({ name: n })!
      await f.waitForFunction(() => document.body.dataset.status === 'signed-out')
      expect(await answer(f)).toBe('Signed out: sign in in the shell.')
    }
    expect(await page.textContent('#status')).toBe('Signed out')
    await context.close()
  })
})
