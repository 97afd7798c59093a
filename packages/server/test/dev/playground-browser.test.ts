import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildPlayground } from '../../scripts/build-playground.js'
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
  await buildPlayground({ fromSource: true })
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

describe('playground in Chromium, built on @tessera/client', () => {
  it('signs in through the hosted form, shows the snapshot and events, a token per demo API, signs out', async () => {
    const values = dev.values()
    const username = values.get('username')![0]!
    const password = values.get('password')![0]!
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text())
    })
    // The page's scripts: the app and the client bundle it imports by package name.
    const scripts: string[] = []
    page.on('request', (r) => {
      if (r.resourceType() === 'script') scripts.push(new URL(r.url()).pathname)
    })

    await page.goto(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed out.')
    expect(scripts).toEqual(['/playground/app.js', '/playground/tessera-client.js'])
    expect(await snapshotOf(page)).toMatchObject({
      status: 'signed-out',
      isLoaded: true,
      isSignedIn: false,
      reason: 'initial',
    })

    // client.signIn(): /authorize -> hosted sign-in form -> callback with code, state and iss.
    await page.click('#sign-in')
    await page.waitForSelector('#username')
    expect(new URL(page.url()).origin).toBe(url)
    await page.fill('#username', username)
    await page.fill('#password', password)
    await page.click('button[type=submit]')
    await page.waitForURL(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed in.')
    expect(await page.locator('#error').isHidden()).toBe(true)

    // The snapshot, live from client.subscribe.
    const snap = await snapshotOf(page)
    expect(snap).toMatchObject({ status: 'signed-in', isSignedIn: true, reason: null })
    expect(String(snap.user.sub)).toMatch(/^usr_/)
    expect(snap.user.preferred_username).toBe(username)

    const at = await claimsOf(page, 'access-token')
    expect(at).toMatchObject({ iss: url, aud: url, client_id: DEMO_CLIENT_ID, sub: snap.user.sub })
    const sid = String(at.sid)
    expect(snap.sessionId).toBe(sid)
    expect(await page.locator('#access-token pre.header').textContent()).toContain('"at+jwt"')
    expect(await page.locator('#access-token .expiry').textContent()).toMatch(
      /^expires in 00:1[45]:\d\d$/,
    )
    expect(await claimsOf(page, 'id-token')).toMatchObject({
      iss: url,
      aud: DEMO_CLIENT_ID,
      sub: snap.user.sub,
      sid,
    })
    // The refresh token is never on the page.
    expect(await page.locator('#refresh-token').textContent()).not.toContain('tsr_')
    await expect.poll(() => page.textContent('#session-state'), POLL).toBe('active')
    expect(await page.textContent('#session-refresh-generation')).toBe('0')

    // A token for each demo API: client.getToken({ audience }) refreshes with resource=.
    await page.click('#api-token-button-0')
    await page.waitForSelector('#api-token-0')
    const orders = await claimsOf(page, 'api-token-0')
    expect(orders).toMatchObject({ aud: DEMO_APIS[0]!.audience, roles: ['customer', 'support'] })
    await expect.poll(() => page.textContent('#session-refresh-generation'), POLL).toBe('1')
    await page.click('#api-token-button-1')
    await page.waitForSelector('#api-token-1')
    const billing = await claimsOf(page, 'api-token-1')
    expect(billing).toMatchObject({ aud: DEMO_APIS[1]!.audience, plan: 'pro' })
    expect(billing.roles).toBeUndefined()
    await expect.poll(() => page.textContent('#session-refresh-generation'), POLL).toBe('2')
    // Asked again, the orders token comes from the client's cache: no third refresh.
    await page.click('#api-token-button-0')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed in.')
    expect(await page.textContent('#session-refresh-generation')).toBe('2')
    expect((await claimsOf(page, 'api-token-0')).jti).toBe(orders.jti)

    // The client's diagnostic events, live: two refreshes, one per audience, and a cache hit.
    const events = (await page.locator('#events li').allTextContents()).reverse()
    const refreshes = events.filter((e) => / refresh_end /.test(e))
    expect(refreshes).toHaveLength(2)
    expect(refreshes[0]).toContain(`audience=${DEMO_APIS[0]!.audience} ok=true`)
    expect(refreshes[1]).toContain(`audience=${DEMO_APIS[1]!.audience} ok=true`)
    expect(events.some((e) => e.includes(` cache_hit  audience=${DEMO_APIS[0]!.audience}`))).toBe(
      true,
    )
    // The request log: the client's code exchange and the two refresh grants.
    const log = (await page.locator('#log li').allTextContents()).reverse()
    expect(log.filter((l) => l.includes('POST /oauth/token -> 200'))).toEqual([
      expect.stringContaining('grant_type=authorization_code'),
      expect.stringContaining(`grant_type=refresh_token resource=${DEMO_APIS[0]!.audience}`),
      expect.stringContaining(`grant_type=refresh_token resource=${DEMO_APIS[1]!.audience}`),
    ])
    for (const line of log) expect(line).not.toMatch(/eyJ|tsr_/)

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

    // client.signOut(): local first, revoke, then end_session, back to the playground.
    await page.click('#sign-out')
    await page.waitForURL(url + '/')
    await expect.poll(() => page.textContent('#status'), POLL).toBe('Signed out.')
    expect(await page.locator('#error').isHidden()).toBe(true)
    expect(await page.locator('#sign-in').isVisible()).toBe(true)
    expect(await snapshotOf(page)).toMatchObject({ status: 'signed-out', isSignedIn: false })
    expect((await page.locator('#log').textContent()) ?? '').toContain('POST /oauth/revoke -> 200')
    const session = await openSession(sid)
    expect(['ended', 'revoked']).toContain(session?.state)

    await page.screenshot({ path: join(ARTIFACTS, 'playground-signed-out.png'), fullPage: true })
    expect(errors).toEqual([])
    await page.close()
  })

  it('SDK-03 a forged callback (no sign-in started, or no iss) is refused by the client', async () => {
    const page = await browser.newPage()
    // No sign-in was started in this browser.
    await page.goto(`${url}/playground/callback?code=abc&state=xyz&iss=${encodeURIComponent(url)}`)
    await expect.poll(() => page.textContent('#error'), POLL).toMatch(/^state_mismatch: /)
    expect(new URL(page.url()).pathname).toBe('/')
    // A sign-in was started; the response carries its state but no iss (RFC 9207).
    let state: string | null = null
    page.on('request', (r) => {
      const u = new URL(r.url())
      if (u.pathname === '/authorize') state = u.searchParams.get('state')
    })
    await page.click('#sign-in')
    await page.waitForSelector('#username')
    expect(state).toMatch(/\S{16,}/)
    await page.goto(`${url}/playground/callback?code=abc&state=${state!}`)
    await expect.poll(() => page.textContent('#error'), POLL).toMatch(/^iss_mismatch: /)
    // Nothing was sent to the token endpoint.
    expect(await page.locator('#log').textContent()).not.toContain('/oauth/token')
    await page.close()
  })
})

async function snapshotOf(page: Page): Promise<any> {
  return JSON.parse((await page.textContent('#snapshot')) ?? 'null')
}
