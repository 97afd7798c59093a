import { generateKeyPairSync, randomBytes } from 'node:crypto'
import Database from 'better-sqlite3'
import { decodeJwt } from 'jose'
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import type { SecurityEventRecord, UserRecord } from '../../src/store/types.js'
import { accountClients } from '../account/support.js'
import { launchChromium } from '../helpers/chromium.js'
import { codeForm, postForm } from '../helpers/grants.js'
import { authorizationParams } from '../helpers/oauth-flow.js'
import { startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'

/**
 * Passkeys end to end in Chromium with the DevTools virtual authenticator (CDP `WebAuthn` domain:
 * CTAP2, internal transport, resident keys, user verification): registration on the hosted
 * /passkeys page, sign-in on the hosted /login page (discoverable and username-first), the code
 * flow to the ID token's `amr`, and the refusals. The issuer is `http://localhost:<port>` (an IP
 * literal cannot be a WebAuthn RP ID); the client (https://app.example.test) is answered by
 * Playwright's interception.
 */

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let t: TestServer
let issuer: string
let alice: UserRecord
let browser: Browser
beforeAll(async () => {
  t = await startTestServer({
    issuerHost: 'localhost',
    // cookie-spa's web origin is same-site with 127.0.0.1 only.
    clients: accountClients.filter((c) => c.id !== 'cookie-spa'),
  })
  issuer = t.server.ctx.config.issuer
  alice = await t.createUser()
  browser = await launchChromium()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await t?.close()
})

interface Tab {
  context: BrowserContext
  page: Page
  cdp: CDPSession
  authenticatorId: string
  problems: string[]
}

/** A browser context with the client's origin answered, and a virtual platform authenticator. */
async function openTab(): Promise<Tab> {
  const context = await browser.newContext()
  const problems: string[] = []
  context.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  await context.route('https://app.example.test/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<p id="client">client</p>' }),
  )
  const page = await context.newPage()
  const cdp = await context.newCDPSession(page)
  await cdp.send('WebAuthn.enable', { enableUI: false })
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  })
  return { context, page, cdp, authenticatorId, problems }
}

/** Starts an authorization request in the tab and waits for the sign-in page. */
async function atSignIn(tab: Tab, scope = 'openid offline_access'): Promise<string> {
  t.clock.advance(1000)
  const { params, codeVerifier } = authorizationParams({ scope, state: 'pk' })
  await tab.page.goto(`${issuer}/authorize?${params}`)
  await tab.page.waitForSelector('#username')
  return codeVerifier
}

/** At the client after a sign-in: redeems the code, returns the tokens. */
async function redeem(tab: Tab, codeVerifier: string) {
  await tab.page.waitForSelector('#client')
  const callback = new URL(tab.page.url())
  expect(callback.origin + callback.pathname).toBe(WEB_REDIRECT)
  const r = await postForm(
    t.url + '/oauth/token',
    codeForm({
      code: callback.searchParams.get('code')!,
      verifier: codeVerifier,
      redirectUri: WEB_REDIRECT,
      clientId: 'web-app',
    }),
  )
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  return {
    idToken: r.body.id_token as string,
    accessToken: r.body.access_token as string,
    claims: decodeJwt(r.body.id_token as string),
  }
}

async function passwordSignIn(tab: Tab, scope?: string) {
  const verifier = await atSignIn(tab, scope)
  await tab.page.fill('#username', 'alice')
  await tab.page.fill('#password', 'correct horse battery')
  await tab.page.click('form:not(#passkey-sign-in) button[type=submit]')
  return redeem(tab, verifier)
}

/** Clicks "Sign in with a passkey" (with `username` typed first: username-first). */
async function clickPasskey(tab: Tab, username = ''): Promise<void> {
  if (username) await tab.page.fill('#username', username)
  await tab.page.click('#passkey-sign-in .passkey-button')
}

async function registerPasskey(tab: Tab, name: string): Promise<void> {
  await tab.page.goto(`${issuer}/passkeys`)
  await tab.page.fill('#passkey-name', name)
  await tab.page.click('#passkey-register .passkey-button')
  await tab.page.waitForSelector('#passkeys')
}

async function signOut(tab: Tab, idToken: string): Promise<void> {
  await tab.page.goto(`${issuer}/logout?${new URLSearchParams({ id_token_hint: idToken })}`)
  expect(await tab.page.textContent('h1')).toBe('Signed out')
}

/** The user's events of `type`, newest first (each step below moves the clock a second on). */
async function events(
  type: SecurityEventRecord['type'],
  user: 'alice' | 'any' = 'alice',
): Promise<SecurityEventRecord[]> {
  return t.store.listEvents({ type, ...(user === 'alice' ? { userId: alice.id } : {}), limit: 100 })
}

/** The failure page: the sign-in form again with the one passkey message. */
async function expectRefused(tab: Tab): Promise<void> {
  await tab.page.waitForSelector('p.alert:not(.passkey-error)')
  expect(await tab.page.textContent('p.alert:not(.passkey-error)')).toBe(
    'This passkey could not be used to sign in.',
  )
  expect(new URL(tab.page.url()).pathname).toBe('/login/passkey')
}

function setCounter(id: string, counter: number): void {
  const db = new Database(t.dbFile)
  try {
    db.prepare('update passkeys set counter = ? where id = ?').run(counter, id)
  } finally {
    db.close()
  }
}

let owner: Tab
let passkeyId: string

describe('passkeys in Chromium with a virtual authenticator', () => {
  beforeAll(async () => {
    owner = await openTab()
  })
  afterAll(async () => {
    await owner?.context.close()
  })

  it('PK-05 a signed-in user adds a passkey on the hosted page (resident key, user verification)', async () => {
    const { idToken, claims } = await passwordSignIn(owner)
    expect(claims.amr).toEqual(['pwd'])
    await registerPasskey(owner, 'Laptop')
    expect(await owner.page.textContent('#passkeys')).toContain('Laptop')

    const stored = await t.store.listPasskeys(alice.id)
    expect(stored).toHaveLength(1)
    const pk = stored[0]!
    passkeyId = pk.id
    expect(pk).toMatchObject({ name: 'Laptop', userId: alice.id, lastUsedAt: null })
    expect(pk.transports).toEqual(['internal'])
    expect(pk.publicKey.length).toBeGreaterThan(40)
    const { credentials } = await owner.cdp.send('WebAuthn.getCredentials', {
      authenticatorId: owner.authenticatorId,
    })
    expect(credentials).toHaveLength(1)
    expect(credentials[0]!.isResidentCredential).toBe(true)
    expect(credentials[0]!.rpId).toBe('localhost')
    expect(Buffer.from(credentials[0]!.credentialId, 'base64').toString('base64url')).toBe(pk.id)
    expect(await events('passkey_registered')).toHaveLength(1)

    await signOut(owner, idToken)
    expect(owner.problems).toEqual([])
  })

  it('PK-04 sign-in with a discoverable passkey: the code flow completes and amr is ["hwk","user"]', async () => {
    const verifier = await atSignIn(owner)
    await clickPasskey(owner)
    const { claims, idToken } = await redeem(owner, verifier)
    expect(claims.sub).toBe(alice.id)
    expect(claims.amr).toEqual(['hwk', 'user'])
    const pk = await t.store.getPasskey(passkeyId)
    expect(pk!.lastUsedAt).not.toBeNull()
    expect(pk!.counter).toBeGreaterThan(0)
    const success = (await events('sign_in_success'))[0]!
    expect(success.data).toMatchObject({ method: 'passkey', passkeyId, amr: ['hwk', 'user'] })
    await signOut(owner, idToken)
  })

  it("PK-04 username-first: after the username, the page offers that user's passkeys (allowCredentials)", async () => {
    const verifier = await atSignIn(owner)
    let body: any
    await owner.page.route('**/login/passkey/options', async (route) => {
      const response = await route.fetch()
      body = await response.json()
      await route.fulfill({ response })
    })
    await clickPasskey(owner, 'alice')
    const { claims, idToken } = await redeem(owner, verifier)
    expect(body.options.allowCredentials).toEqual([
      { id: passkeyId, type: 'public-key', transports: ['internal'] },
    ])
    expect(body.options.userVerification).toBe('required')
    expect(body.options.rpId).toBe('localhost')
    await owner.page.unrouteAll()
    expect(claims.amr).toEqual(['hwk', 'user'])
    await signOut(owner, idToken)
  })

  it('PK-01 another authenticator, not registered here, is refused (unknown credential, and a different key under the registered id)', async () => {
    const other = await openTab()
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64')
      const handle = Buffer.from(alice.id, 'utf8').toString('base64')
      // A passkey for this site that the server never registered.
      await other.cdp.send('WebAuthn.addCredential', {
        authenticatorId: other.authenticatorId,
        credential: {
          credentialId: randomBytes(16).toString('base64'),
          isResidentCredential: true,
          rpId: 'localhost',
          privateKey: pkcs8,
          userHandle: handle,
          signCount: 1,
        },
      })
      const sessionsBefore = (
        await t.store.listSessions({ userId: alice.id, liveOrEndedSince: 0, limit: 100 })
      ).length
      await atSignIn(other)
      await clickPasskey(other)
      await expectRefused(other)
      expect((await events('sign_in_failure', 'any'))[0]!.data).toMatchObject({
        method: 'passkey',
        reason: 'unknown_passkey',
      })

      // Same credential id as the registered passkey, another key: the signature does not verify.
      await other.cdp.send('WebAuthn.clearCredentials', { authenticatorId: other.authenticatorId })
      await other.cdp.send('WebAuthn.addCredential', {
        authenticatorId: other.authenticatorId,
        credential: {
          credentialId: Buffer.from(passkeyId, 'base64url').toString('base64'),
          isResidentCredential: true,
          rpId: 'localhost',
          privateKey: pkcs8,
          userHandle: handle,
          signCount: 500,
        },
      })
      await atSignIn(other)
      await clickPasskey(other)
      await expectRefused(other)
      expect((await events('sign_in_failure'))[0]!.data).toMatchObject({
        reason: 'invalid_assertion',
        passkeyId,
      })
      expect(
        (await t.store.listSessions({ userId: alice.id, liveOrEndedSince: 0, limit: 100 })).length,
      ).toBe(sessionsBefore)
      expect(await other.context.cookies()).not.toContainEqual(
        expect.objectContaining({ name: 'tessera_sso' }),
      )
    } finally {
      await other.context.close()
    }
  })

  it('MFA-02 a counter regression is refused with a passkey_counter_regression event, counter unchanged', async () => {
    setCounter(passkeyId, 1000)
    await atSignIn(owner)
    await clickPasskey(owner)
    await expectRefused(owner)
    const [event] = await events('passkey_counter_regression')
    expect(event!.data).toMatchObject({ passkeyId, stored: 1000 })
    expect(event!.data.reported as number).toBeLessThan(1000)
    expect((await events('sign_in_failure'))[0]!.data).toMatchObject({
      reason: 'counter_regression',
    })
    expect((await t.store.getPasskey(passkeyId))!.counter).toBe(1000)
    setCounter(passkeyId, 0)
  })

  it('PK-02 a replayed challenge (the same assertion posted again) is refused', async () => {
    const verifier = await atSignIn(owner)
    const posted = owner.page.waitForRequest(
      (r) => r.method() === 'POST' && r.url().endsWith('/login/passkey'),
    )
    await clickPasskey(owner)
    const body = (await posted).postData()!
    const { idToken } = await redeem(owner, verifier)
    const cookie = (await owner.context.cookies(issuer))
      .filter((c) => c.name === 'tessera_csrf')
      .map((c) => `${c.name}=${c.value}`)
      .join('; ')
    const replay = await fetch(t.url + '/login/passkey', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body,
      redirect: 'manual',
    })
    expect(replay.status).toBe(400)
    expect(await replay.text()).toContain('This passkey could not be used to sign in.')
    expect(replay.headers.get('set-cookie') ?? '').not.toContain('tessera_sso')
    expect((await events('sign_in_failure'))[0]!.data).toMatchObject({
      reason: 'challenge_reused',
      passkeyId,
    })
    await signOut(owner, idToken)
  })

  it('PK-03 a passkey removed through the account API can no longer sign in', async () => {
    const { accessToken, idToken } = await passwordSignIn(
      owner,
      'openid offline_access account:sessions',
    )
    const listed = await fetch(t.url + '/account/passkeys', {
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(listed.status).toBe(200)
    const { passkeys } = (await listed.json()) as { passkeys: { id: string; name: string }[] }
    expect(passkeys.map((p) => [p.id, p.name])).toEqual([[passkeyId, 'Laptop']])
    const removed = await fetch(`${t.url}/account/passkeys/${passkeyId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${accessToken}` },
    })
    expect(removed.status).toBe(204)
    expect(await t.store.listPasskeys(alice.id)).toEqual([])
    expect((await events('passkey_removed'))[0]!.data).toMatchObject({
      passkeyId,
      via: 'account_api',
    })
    await signOut(owner, idToken)

    // The authenticator still holds the credential; the server no longer knows it.
    await atSignIn(owner)
    await clickPasskey(owner)
    await expectRefused(owner)
    expect((await events('sign_in_failure', 'any'))[0]!.data).toMatchObject({
      reason: 'unknown_passkey',
    })
    // The refusals above are 400 pages (logged as failed loads); nothing was blocked by the CSP.
    expect(owner.problems.filter((p) => !p.includes('status of 400'))).toEqual([])
  })
})
