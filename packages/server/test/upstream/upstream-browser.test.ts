import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import BetterSqlite3 from 'better-sqlite3'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { PATHS } from '../../src/oauth/paths.js'
import { contextWithClient, launchChromium } from '../helpers/chromium.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { UPSTREAM_CLIENT_ID, UPSTREAM_CLIENT_SECRET, UpstreamIdp } from '../helpers/upstream-idp.js'

/**
 * "Sign in with ..." end to end in Chromium: Tessera's sign-in page, `oidc-provider` as the
 * upstream identity provider on 127.0.0.1 (its development login page: the login name is the
 * account's `sub`, any password), and back through Tessera to the client. The client is the native
 * app with a loopback redirect URI (RFC 8252 §7.3) served on 127.0.0.1: Playwright's interception of
 * `https://app.example.test` does not reach the end of a redirect chain that crosses two origins
 * (provider -> Tessera -> client). CSP violations would show as console errors.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let idp: UpstreamIdp
let t: TestServer
let browser: Browser
let app: Server
let redirect: string

beforeAll(async () => {
  app = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p id="client">client</p>')
  })
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
  redirect = `http://127.0.0.1:${(app.address() as AddressInfo).port}/cb`
  idp = await new UpstreamIdp().listen()
  t = await startTestServer({
    config: {
      upstream: [
        {
          id: 'acme',
          name: 'Acme ID',
          issuer: idp.issuer,
          clientId: UPSTREAM_CLIENT_ID,
          clientSecret: UPSTREAM_CLIENT_SECRET,
        },
      ],
    },
  })
  await idp.serve(t.url + PATHS.loginUpstreamCallback)
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
  await idp?.close()
  await new Promise((r) => app?.close(r))
})

function query<T>(sql: string, ...args: unknown[]): T[] {
  const db = new BetterSqlite3(t.dbFile, { readonly: true })
  try {
    return db.prepare(sql).all(...args) as T[]
  } finally {
    db.close()
  }
}

const linksOf = (sub: string) =>
  query<{ user_id: string }>(
    `select user_id from upstream_links where provider_id = 'acme' and subject = ?`,
    sub,
  )
const userCount = () => query<{ n: number }>('select count(*) as n from users')[0]!.n
const lastAmr = (userId: string): string[] =>
  JSON.parse(
    query<{ amr: string }>(
      'select amr from browser_sessions where user_id = ? order by created_at desc, rowid desc limit 1',
      userId,
    )[0]!.amr,
  ) as string[]

/** From the client's /authorize, through "Sign in with Acme ID" and the provider's pages as
 * `login`; stops at the client or at Tessera's link page. */
async function signInWithAcme(login: string): Promise<{ page: Page; problems: string[] }> {
  const { context, problems } = await contextWithClient(browser)
  const page = await context.newPage()
  const { params } = authorizationParams({
    clientId: 'native-app',
    redirectUri: redirect,
    state: 'upstream',
    scope: 'openid',
  })
  await page.goto(`${t.url}/authorize?${params}`)
  await page.click('text=Sign in with Acme ID')
  await page.waitForSelector('input[name=login]')
  await page.fill('input[name=login]', login)
  await page.fill('input[name=password]', 'any password')
  await page.click('button[type=submit]')
  // The provider's consent page, then back to Tessera.
  await page.waitForSelector('button[type=submit]')
  await Promise.all([
    page.waitForURL(
      (u) => u.href.startsWith(redirect) || u.pathname === PATHS.loginUpstreamCallback,
    ),
    page.click('button[type=submit]'),
  ])
  return { page, problems }
}

/** Console errors that are CSP violations (the provider's pages also try to load a web font). */
const cspProblems = (problems: string[]) =>
  problems.filter((p) => /Content Security Policy/i.test(p))

describe('upstream sign-in in Chromium', () => {
  it('the sign-in page offers one button per provider', async () => {
    const { context, problems } = await contextWithClient(browser)
    const page = await context.newPage()
    const { params } = authorizationParams()
    await page.goto(`${t.url}/authorize?${params}`)
    expect(await page.locator('a.upstream').allTextContents()).toEqual(['Sign in with Acme ID'])
    expect(cspProblems(problems)).toEqual([])
    await context.close()
  })

  it('UP-01 a first upstream sign-in creates a user, links it and reaches the client with amr fed', async () => {
    idp.accounts.set('dora', { email: 'dora@example.test', email_verified: true, name: 'Dora' })
    const before = userCount()
    const { page, problems } = await signInWithAcme('dora')
    const back = new URL(page.url())
    expect(back.href.startsWith(redirect)).toBe(true)
    expect(back.searchParams.get('code')).toBeTruthy()
    expect(back.searchParams.get('state')).toBe('upstream')
    expect(userCount()).toBe(before + 1)
    const links = linksOf('dora')
    expect(links).toHaveLength(1)
    const user = await t.store.getUser(links[0]!.user_id)
    expect(user).toMatchObject({ email: 'dora@example.test', username: 'dora@example.test' })
    expect(user!.emailVerifiedAt).not.toBeNull()
    expect(lastAmr(user!.id)).toEqual(['fed'])
    expect(cspProblems(problems)).toEqual([])
    await page.context().close()
  })

  it('UP-02 a second upstream sign-in reuses the link', async () => {
    const first = linksOf('dora')[0]!.user_id
    const before = userCount()
    const { page } = await signInWithAcme('dora')
    expect(page.url().startsWith(redirect)).toBe(true)
    expect(userCount()).toBe(before)
    expect(linksOf('dora')).toEqual([{ user_id: first }])
    await page.context().close()
  })

  it('UP-06 an address verified on both sides links to the existing account', async () => {
    const erin = await t.createUser('erin', 'erin password 123')
    await t.store.updateUser({ ...erin, emailVerifiedAt: t.clock.now() })
    idp.accounts.set('erin-upstream', { email: 'erin@example.test', email_verified: true })
    const before = userCount()
    const { page, problems } = await signInWithAcme('erin-upstream')
    expect(page.url().startsWith(redirect)).toBe(true)
    expect(userCount()).toBe(before)
    expect(linksOf('erin-upstream')).toEqual([{ user_id: erin.id }])
    expect(lastAmr(erin.id)).toEqual(['fed'])
    expect(cspProblems(problems)).toEqual([])
    await page.context().close()
  })

  it('UP-07 an address the provider does not call verified links only after signing in to the account', async () => {
    const fay = await t.createUser('fay', 'fay password 1234')
    await t.store.updateUser({ ...fay, emailVerifiedAt: t.clock.now() })
    idp.accounts.set('fay-upstream', { email: 'fay@example.test', email_verified: false })
    const before = userCount()
    const { page, problems } = await signInWithAcme('fay-upstream')
    expect(new URL(page.url()).pathname).toBe(PATHS.loginUpstreamCallback)
    await page.waitForSelector('text=Link your account')
    // Nothing is linked or created before the account holder signs in.
    expect(linksOf('fay-upstream')).toEqual([])
    expect(userCount()).toBe(before)
    await page.fill('#username', 'fay')
    await page.fill('#password', 'wrong password 1')
    await page.click('button[type=submit]')
    await page.waitForSelector('[role=alert]')
    expect(linksOf('fay-upstream')).toEqual([])
    await page.fill('#username', 'fay')
    await page.fill('#password', 'fay password 1234')
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(redirect)),
      page.click('button[type=submit]'),
    ])
    expect(new URL(page.url()).searchParams.get('code')).toBeTruthy()
    expect(linksOf('fay-upstream')).toEqual([{ user_id: fay.id }])
    expect(userCount()).toBe(before)
    expect(lastAmr(fay.id)).toEqual(['fed', 'pwd'])
    expect(cspProblems(problems)).toEqual([])
    await page.context().close()

    // From now on the link signs in directly.
    const again = await signInWithAcme('fay-upstream')
    expect(again.page.url().startsWith(redirect)).toBe(true)
    await again.page.context().close()
  })

  it('UP-07 an address verified upstream but not here also needs the account holder to confirm', async () => {
    const gus = await t.createUser('gus', 'gus password 1234')
    expect(gus.emailVerifiedAt).toBeNull()
    idp.accounts.set('gus-upstream', { email: 'gus@example.test', email_verified: true })
    const { page } = await signInWithAcme('gus-upstream')
    await page.waitForSelector('text=Link your account')
    expect(linksOf('gus-upstream')).toEqual([])
    await page.context().close()
  })
})
