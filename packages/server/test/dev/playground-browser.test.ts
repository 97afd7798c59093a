import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DEMO_APIS, DEMO_CLIENT_ID } from '../../src/dev/demo.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { CliProcess, tempDir } from '../cli/cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

/** Generous: CI machines are small and run test files side by side. */
const POLL = { timeout: 15_000 }
const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url))

let tmp: ReturnType<typeof tempDir>
let dev: CliProcess
let url: string
let browser: Browser

beforeAll(async () => {
  tmp = tempDir('tessera-playground-')
  dev = new CliProcess(['dev', '--port', '0'], { cwd: tmp.dir })
  url = await dev.url()
  await dev.waitFor(/^password: /m)
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await dev?.stop()
  tmp?.remove()
})

function claimsOf(page: Page, cardId: string): Promise<Record<string, unknown>> {
  return page
    .locator(`#${cardId} pre.claims`)
    .textContent()
    .then((t) => JSON.parse(t ?? '{}') as Record<string, unknown>)
}

async function openSession(id: string) {
  const store = new SqliteStore({ file: join(tmp.dir, '.tessera', 'tessera.db') })
  try {
    return await store.getSession(id)
  } finally {
    await store.close()
  }
}

describe('playground in Chromium', () => {
  it('signs in through the hosted form, shows tokens, refreshes, calls userinfo, signs out', async () => {
    const values = dev.values()
    const username = values.get('username')![0]!
    const password = values.get('password')![0]!
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })

    await page.goto(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed out.')

    // Sign in: /authorize -> hosted sign-in form -> callback with code, state and iss.
    await page.click('#sign-in')
    await page.waitForSelector('#username')
    expect(new URL(page.url()).origin).toBe(url)
    await page.fill('#username', username)
    await page.fill('#password', password)
    await page.click('button[type=submit]')
    await page.waitForURL(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed in.')
    expect(await page.locator('#error').isHidden()).toBe(true)

    const at = await claimsOf(page, 'access-token')
    expect(at).toMatchObject({ iss: url, aud: url, client_id: DEMO_CLIENT_ID })
    expect(String(at.sub)).toMatch(/^usr_/)
    const sid = String(at.sid)
    expect(await page.locator('#access-token pre.header').textContent()).toContain('"at+jwt"')
    expect(await page.locator('#access-token .expiry').textContent()).toMatch(
      /^expires in 00:1[45]:\d\d$/,
    )
    const id = await claimsOf(page, 'id-token')
    expect(id).toMatchObject({ iss: url, aud: DEMO_CLIENT_ID, sub: at.sub, sid })
    expect(await page.locator('#refresh-token').textContent()).toContain('tsr_')
    await expect.poll(() => page.textContent('#session-state'), POLL).toBe('active')
    expect(await page.textContent('#session-refresh-generation')).toBe('0')

    // Refresh: a new access token for the issuer, the refresh family advanced once.
    await page.click('#refresh')
    await expect.poll(() => page.textContent('#session-refresh-generation'), POLL).toBe('1')
    const at2 = await claimsOf(page, 'access-token')
    expect(at2.jti).not.toBe(at.jti)
    expect(at2.sid).toBe(sid)

    // A token for each demo API (resource= at the refresh grant), with its per-API claim.
    await page.click('#api-token-button-0')
    await page.waitForSelector('#api-token-0')
    const orders = await claimsOf(page, 'api-token-0')
    expect(orders).toMatchObject({ aud: DEMO_APIS[0]!.audience, roles: ['customer', 'support'] })
    await page.click('#api-token-button-1')
    await page.waitForSelector('#api-token-1')
    const billing = await claimsOf(page, 'api-token-1')
    expect(billing).toMatchObject({ aud: DEMO_APIS[1]!.audience, plan: 'pro' })
    expect(billing.roles).toBeUndefined()
    await expect.poll(() => page.textContent('#session-refresh-generation'), POLL).toBe('3')

    // Userinfo with the issuer-audience access token.
    await page.click('#call-userinfo')
    await expect.poll(() => page.textContent('#userinfo'), POLL).toContain('"preferred_username"')
    const info = JSON.parse((await page.textContent('#userinfo')) ?? '{}') as Record<
      string,
      unknown
    >
    expect(info).toMatchObject({ sub: at.sub, preferred_username: username })

    mkdirSync(ARTIFACTS, { recursive: true })
    await page.screenshot({ path: join(ARTIFACTS, 'playground-signed-in.png'), fullPage: true })

    // Sign out: revoke, then end_session, back to the playground.
    await page.click('#sign-out')
    await page.waitForURL(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed out.')
    expect(await page.locator('#error').isHidden()).toBe(true)
    expect(await page.locator('#sign-in').isVisible()).toBe(true)
    const log = (await page.locator('#log').textContent()) ?? ''
    expect(log).toContain('POST /oauth/revoke -> 200')
    const session = await openSession(sid)
    expect(session?.state).not.toBe('active')
    expect(['ended', 'revoked']).toContain(session?.state)

    await page.screenshot({ path: join(ARTIFACTS, 'playground-signed-out.png'), fullPage: true })
    expect(errors).toEqual([])
    await page.close()
  })

  it('SDK-03 a forged callback (wrong state or missing iss) is ignored with an error', async () => {
    const page = await browser.newPage()
    // No sign-in was started in this tab.
    await page.goto(`${url}/playground/callback?code=abc&state=xyz&iss=${encodeURIComponent(url)}`)
    await expect.poll(() => page.textContent('#error'), POLL).toContain('no sign-in was started')
    // A sign-in was started, but the response carries another state, then no iss.
    await page.evaluate(() =>
      sessionStorage.setItem(
        'tessera.playground.sign-in',
        JSON.stringify({ verifier: 'v'.repeat(43), state: 'expected', nonce: 'n' }),
      ),
    )
    await page.goto(
      `${url}/playground/callback?code=abc&state=other&iss=${encodeURIComponent(url)}`,
    )
    await expect.poll(() => page.textContent('#error'), POLL).toContain('state does not match')
    await page.evaluate(() =>
      sessionStorage.setItem(
        'tessera.playground.sign-in',
        JSON.stringify({ verifier: 'v'.repeat(43), state: 'expected', nonce: 'n' }),
      ),
    )
    await page.goto(`${url}/playground/callback?code=abc&state=expected`)
    await expect.poll(() => page.textContent('#error'), POLL).toContain('iss is missing')
    // Nothing was sent to the token endpoint.
    expect(await page.locator('#log li').count()).toBe(0)
    await page.close()
  })
})
