/**
 * The hosted pages in Chromium: the operator's style sheet and colours apply under the strict CSP
 * (no violation reported), the page follows the browser's language, and axe-core finds no
 * accessibility violation on the sign-in page, sign-up, the second step and the account page.
 * axe is evaluated through the DevTools protocol (page.evaluate), which the page's CSP does not
 * govern; the page itself still allows no script.
 */
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { contextWithClient, launchChromium } from '../helpers/chromium.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { TestSmtp } from '../helpers/smtp.js'
import { defaultClients, startTestServer, type TestServer } from '../helpers/test-server.js'
import { enrolTotp, passwordStep, PASSWORD } from '../mfa/mfa-helpers.js'

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
)

const dir = mkdtempSync(join(tmpdir(), 'tessera-branding-'))
const cssFile = join(dir, 'brand.css')
writeFileSync(cssFile, 'h1{color:rgb(1, 2, 3);letter-spacing:2px}\n')

let smtp: TestSmtp
let t: TestServer
let browser: Browser

beforeAll(async () => {
  smtp = await new TestSmtp().start()
  browser = await launchChromium()
  t = await startTestServer({
    clients: defaultClients.map((c) => (c.id === 'web-app' ? { ...c, signUp: true } : c)),
    config: {
      email: {
        smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
        from: 'auth@example.test',
      },
      branding: {
        name: 'Acme',
        colors: { primary: '#0b5394', background: 'rgb(240, 240, 250)' },
        cssFile,
      },
    },
  })
  await t.createUser()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
  await smtp?.close()
})

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[]
}

/** axe-core's violations on the page (WCAG 2.1 A and AA, and best practices). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE)
  const r = await page.evaluate(() =>
    (window as unknown as { axe: { run: (o: unknown) => Promise<AxeResult> } }).axe.run({
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
      },
    }),
  )
  return r.violations.map(
    (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  )
}

/** The console errors but the 400 answers of refused forms (a CSP violation shows among them). */
const cspProblems = (problems: string[]): string[] =>
  problems.filter(
    (p) => !p.startsWith('Failed to load resource: the server responded with a status of 400'),
  )

/** A fresh browser at the sign-in page; `locale`: the browser's language (Accept-Language). */
async function signInPage(locale?: string) {
  const { context, problems } = locale
    ? { context: await browser.newContext({ locale }), problems: [] as string[] }
    : await contextWithClient(browser)
  const page = await context.newPage()
  const { params } = authorizationParams({ state: 'look' })
  await page.goto(`${t.url}/authorize?${params}`)
  await page.waitForSelector('#username')
  return { page, problems, done: () => context.close() }
}

describe('the hosted pages in Chromium', () => {
  it('apply the operator style sheet and colours under a CSP without unsafe-inline', async () => {
    const { page, problems, done } = await signInPage()
    const csp = await (await page.reload())?.headerValue('content-security-policy')
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("'self'")
    await page.waitForSelector('h1')
    const look = await page.evaluate(() => ({
      h1: getComputedStyle(document.querySelector('h1') as Element).color,
      spacing: getComputedStyle(document.querySelector('h1') as Element).letterSpacing,
      body: getComputedStyle(document.body).backgroundColor,
      button: getComputedStyle(document.querySelector('button[type=submit]') as Element)
        .backgroundColor,
      brand: document.querySelector('.brand')?.textContent,
    }))
    expect(look).toEqual({
      h1: 'rgb(1, 2, 3)',
      spacing: '2px',
      body: 'rgb(240, 240, 250)',
      button: 'rgb(11, 83, 148)',
      brand: 'Acme',
    })
    expect(await page.title()).toBe('Sign in · Acme')
    expect(cspProblems(problems)).toEqual([])
    await done()
  })

  it('speak the language of the browser (Accept-Language)', async () => {
    const { page, done } = await signInPage('fr-FR')
    expect(await page.getAttribute('html', 'lang')).toBe('fr')
    expect(await page.textContent('h1')).toBe('Connexion')
    expect(await page.textContent('label[for=password]')).toBe('Mot de passe')
    await page.fill('#username', 'alice')
    await page.fill('#password', 'wrong password!')
    await page.click('button[type=submit]')
    await page.waitForSelector('[role=alert]')
    expect(await page.textContent('[role=alert]')).toBe(
      "Nom d'utilisateur ou mot de passe incorrect.",
    )
    // The error is announced and is the fields' description.
    expect(await page.getAttribute('#password', 'aria-describedby')).toBe('form-error')
    await done()
  })

  it('axe: no violations on the sign-in page, with and without an error', async () => {
    const { page, problems, done } = await signInPage()
    expect(await axeViolations(page)).toEqual([])
    await page.fill('#username', 'alice')
    await page.fill('#password', 'wrong password!')
    await page.click('button[type=submit]')
    await page.waitForSelector('[role=alert]')
    expect(await axeViolations(page)).toEqual([])
    // Focus order: the fields, then the button, then the links, as read.
    await page.focus('#username')
    const order: string[] = []
    for (let i = 0; i < 4; i++) {
      order.push(
        await page.evaluate(() => {
          const e = document.activeElement as HTMLElement
          return e.id || e.textContent || e.tagName
        }),
      )
      await page.keyboard.press('Tab')
    }
    expect(order).toEqual(['username', 'password', 'Sign in', 'Forgot your password?'])
    expect(cspProblems(problems)).toEqual([])
    await done()
  })

  it('axe: no violations on the sign-up page', async () => {
    const { page, problems, done } = await signInPage()
    await page.click('text=Create an account')
    await page.waitForSelector('#email')
    expect(await axeViolations(page)).toEqual([])
    expect(cspProblems(problems)).toEqual([])
    await done()
  })

  it('axe: no violations on the second step and the account page', async () => {
    await t.createUser('otto')
    const first = await passwordStep(t, { username: 'otto' })
    await enrolTotp(t, first.jar)
    const { page, problems, done } = await signInPage()
    await page.fill('#username', 'otto')
    await page.fill('#password', PASSWORD)
    await page.click('button[type=submit]')
    await page.waitForSelector('#code')
    expect(await axeViolations(page)).toEqual([])
    await page.fill('#code', '000000')
    await page.click('button[type=submit]')
    await page.waitForSelector('[role=alert]')
    expect(await page.getAttribute('#code', 'aria-describedby')).toBe('form-error')
    expect(await axeViolations(page)).toEqual([])
    expect(cspProblems(problems)).toEqual([])
    await done()

    const a = await signInPage()
    await a.page.fill('#username', 'alice')
    await a.page.fill('#password', PASSWORD)
    await a.page.click('button[type=submit]')
    await a.page.waitForSelector('#client')
    await a.page.goto(t.url + ACCOUNT_PATHS.accountPage)
    await a.page.waitForSelector('#current_password')
    expect(await axeViolations(a.page)).toEqual([])
    expect(cspProblems(a.problems)).toEqual([])
    await a.done()
  })
})
