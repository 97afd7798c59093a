import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { decodeJwt } from 'jose'
import type { Browser, Page } from 'playwright-core'
import { launchChromium } from '../helpers/chromium.js'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { UserRecord } from '../../src/store/types.js'
import { signInTokens } from '../helpers/grants.js'
import { isActive } from '../token/fixtures.js'
import { ADMIN_KEY, startAdminServer, type TestServer } from './admin-helpers.js'

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const ARTIFACTS = fileURLToPath(new URL('../../../../test-artifacts/', import.meta.url))

let t: TestServer
let browser: Browser
let alice: UserRecord
const sessions: { id: string; clientId: string; accessToken: string }[] = []

beforeAll(async () => {
  t = await startAdminServer()
  alice = await t.createUser('alice', 'correct horse battery', { roles: ['billing'] })
  await t.createUser('bob', 'bob password 1234')
  await t.createUser('carol', 'carol password 1234')
  for (const clientId of ['web-app', 'native-app']) {
    t.clock.advance(60_000)
    const r = await signInTokens(t, alice, { clientId, scope: 'openid offline_access read' })
    expect(r.status).toBe(200)
    sessions.push({
      id: decodeJwt(r.body.access_token).sid as string,
      clientId,
      accessToken: r.body.access_token,
    })
  }
  t.clock.advance(60_000)
  mkdirSync(ARTIFACTS, { recursive: true })
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await t?.close()
})

/** The cells of the table row that mentions `text`. */
async function rowOf(page: Page, text: string): Promise<string[]> {
  const row = page.locator('tbody tr', { hasText: text })
  await expect.poll(() => row.count()).toBe(1)
  return (await row.locator('td').allInnerTexts()).map((s) => s.trim())
}

describe('admin console in Chromium', () => {
  it('signs in, goes users -> user -> sessions, revokes a session, sees it revoked and in the events', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const problems: string[] = []
    page.on('pageerror', (e) => problems.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text())
    })

    await page.goto(t.url + '/admin')
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in')
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console-sign-in.png') })

    // A wrong key: the generic error, still on the sign-in page.
    await page.fill('#key', 'tsa_not-the-key')
    await page.click('button[type=submit]')
    await expect.poll(() => page.textContent('.alert')).toBe('That admin key is not valid.')

    await page.fill('#key', ADMIN_KEY)
    await page.click('button[type=submit]')
    await page.waitForURL(t.url + '/admin/users')
    expect(await page.textContent('h1')).toBe('Users')
    expect(await rowOf(page, 'alice')).toEqual([
      'alice',
      'alice',
      'alice@example.test',
      'active',
      expect.stringMatching(/^2026-01-01 00:00:00Z$/),
    ])
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console-users.png'), fullPage: true })

    // Users -> alice: her details and her two live sessions.
    await page.click('a:text-is("alice")')
    await page.waitForURL(`${t.url}/admin/users/${alice.id}`)
    expect(await page.textContent('main')).toContain(alice.id)
    for (const s of sessions) expect((await rowOf(page, s.id))[3]).toBe('active')
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console-user.png'), fullPage: true })

    // -> all her sessions; revoke the web-app one.
    await page.click('text=All sessions of this user')
    await page.waitForURL(`${t.url}/admin/sessions?user=${alice.id}`)
    expect(await page.textContent('h1')).toBe('Sessions')
    const target = sessions.find((s) => s.clientId === 'web-app')!
    const other = sessions.find((s) => s.clientId === 'native-app')!
    await page
      .locator('tbody tr', { hasText: target.id })
      .locator('button:text-is("Revoke")')
      .click()
    await page.waitForURL(`${t.url}/admin/sessions?user=${alice.id}&done=revoked`)
    expect(await page.textContent('.notice')).toBe('The session is revoked.')
    const revoked = await rowOf(page, target.id)
    expect(revoked.slice(0, 5)).toEqual([target.id, 'alice', 'web-app', 'revoked', 'admin'])
    expect(revoked[7]).toBe('2026-01-01 00:03:00Z')
    expect(revoked[8]).toBe('')
    expect((await rowOf(page, other.id)).slice(3, 5)).toEqual(['active', '-'])
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console-sessions.png'), fullPage: true })

    // In the store: revoked with its reason and time, and its tokens are dead; the other lives.
    expect(await t.store.getSession(target.id)).toMatchObject({
      state: 'revoked',
      reason: 'admin',
      endedAt: t.clock.now(),
    })
    expect(await isActive(t, target.accessToken)).toBe(false)
    expect(await isActive(t, other.accessToken)).toBe(true)
    const [ev] = await t.store.listEvents({ type: 'session_revoked', sessionId: target.id })
    expect(ev).toMatchObject({
      userId: alice.id,
      clientId: 'web-app',
      ip: '127.0.0.1',
      data: {
        reason: 'admin',
        actor: { kind: 'api_key', id: 'config:ops', name: 'ops', via: 'console' },
      },
    })
    expect(ev?.userAgent).toMatch(/Chrome/)

    // Security events: the revocation is there, with the actor.
    await page.click('nav a:text-is("Security events")')
    await page.waitForURL(t.url + '/admin/events')
    const eventRow = await rowOf(page, target.id)
    expect(eventRow.slice(1, 6)).toEqual([
      'session_revoked',
      alice.id,
      'web-app',
      target.id,
      '127.0.0.1',
    ])
    expect(eventRow[6]).toBe('by ops (api_key via console) {"reason":"admin"}')
    // Filtered to the type, only that event is left.
    await page.selectOption('select[name=type]', 'session_revoked')
    await page.click('button:text-is("Filter")')
    await page.waitForURL(/\/admin\/events\?type=session_revoked/)
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1)
    await page.screenshot({ path: join(ARTIFACTS, 'admin-console-events.png'), fullPage: true })

    // Sign out: back to the sign-in page, and the console is closed.
    await page.click('header button:text-is("Sign out")')
    await page.waitForURL(t.url + '/admin/sign-in?signed_out=1')
    await page.goto(t.url + '/admin/users')
    expect(new URL(page.url()).pathname).toBe('/admin/sign-in')

    // No script errors and no CSP violations on any page; the one 401 is the wrong key's answer.
    expect(problems).toEqual([
      'Failed to load resource: the server responded with a status of 401 (Unauthorized)',
    ])
    await page.close()
  })
})
