import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PasskeyRecord, UserRecord } from '../../src/store/types.js'
import { account, accountClients, signIn } from '../account/support.js'
import { adminApi, allEvents, API_ACTOR, startAdminServer } from '../admin/admin-helpers.js'
import {
  authorizationParams,
  browserFetch,
  formFields,
  CookieJar,
  openLogin,
  startAuthorize,
  submitLogin,
} from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

/**
 * Passkeys without a browser: the account API and the Admin API over stored passkeys, the pages'
 * CSP with the passkey script, bad input at the ceremony endpoints, and an issuer on an IP literal
 * (no RP ID, so no passkeys). The ceremonies themselves run in Chromium (passkeys-browser.test.ts).
 */

let t: TestServer
let alice: UserRecord
let bob: UserRecord

const record = (user: UserRecord, id: string, name: string): PasskeyRecord => ({
  id,
  userId: user.id,
  publicKey: Buffer.from(`cose-key-of-${id}`).toString('base64url'),
  counter: 7,
  transports: ['internal', 'hybrid'],
  backupEligible: true,
  backupState: false,
  name,
  createdAt: t.clock.now(),
  lastUsedAt: null,
})

async function addPasskey(user: UserRecord, id: string, name: string): Promise<void> {
  const ok = await t.store.createPasskey(
    record(user, id, name),
    t.server.ctx.events.make('passkey_registered', { userId: user.id, data: { passkeyId: id } }),
  )
  expect(ok).toBe(true)
}

beforeAll(async () => {
  t = await startAdminServer({
    issuerHost: 'localhost',
    clients: accountClients.filter((c) => c.id !== 'cookie-spa'),
  })
  alice = await t.createUser('alice')
  bob = await t.createUser('bob')
  await addPasskey(alice, 'alice-laptop-credential', 'Laptop')
  await addPasskey(alice, 'alice-phone-credential', 'Phone')
  await addPasskey(bob, 'bob-key-credential', 'Key')
})
afterAll(async () => {
  await t?.close()
})

describe('passkey store', () => {
  it('a credential id is registered once, whoever registers it', async () => {
    const again = await t.store.createPasskey(
      record(bob, 'alice-laptop-credential', 'Copy'),
      t.server.ctx.events.make('passkey_registered', { userId: bob.id }),
    )
    expect(again).toBe(false)
    expect((await t.store.getPasskey('alice-laptop-credential'))!.userId).toBe(alice.id)
  })

  it('the counter moves by compare-and-set only', async () => {
    await addPasskey(bob, 'bob-cas-credential', 'CAS')
    const use = { counter: 9, backupState: true, now: t.clock.now() }
    expect(await t.store.usePasskey('bob-cas-credential', 6, use)).toBe(false)
    expect(await t.store.usePasskey('bob-cas-credential', 7, use)).toBe(true)
    expect(await t.store.getPasskey('bob-cas-credential')).toMatchObject({
      counter: 9,
      backupState: true,
      lastUsedAt: use.now,
    })
  })

  it('PK-02 a challenge is recorded as used once until it expires', async () => {
    const now = t.clock.now()
    expect(await t.store.useWebAuthnChallenge('authenticate:abc', now, now + 1000)).toBe(true)
    expect(await t.store.useWebAuthnChallenge('authenticate:abc', now, now + 1000)).toBe(false)
    expect(await t.store.pruneWebAuthnChallenges(now + 1000)).toBeGreaterThanOrEqual(1)
  })
})

describe("account API: the caller's passkeys", () => {
  it("lists only the caller's passkeys, without public keys", async () => {
    const { accessToken } = await signIn(t, alice)
    const r = await account(t, 'GET', '/account/passkeys', accessToken)
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body.passkeys).toEqual([
      {
        id: 'alice-laptop-credential',
        name: 'Laptop',
        transports: ['internal', 'hybrid'],
        backup_eligible: true,
        backed_up: false,
        created_at: new Date(t.clock.now()).toISOString(),
        last_used_at: null,
      },
      expect.objectContaining({ id: 'alice-phone-credential', name: 'Phone' }),
    ])
    expect(JSON.stringify(r.body)).not.toContain('cose-key')
  })

  it("PK-06 another user's passkey cannot be removed: 404, nothing removed, no event", async () => {
    const { accessToken } = await signIn(t, alice)
    const before = (await allEvents(t)).length
    const r = await account(t, 'DELETE', '/account/passkeys/bob-key-credential', accessToken)
    expect(r.status).toBe(404)
    expect(r.body).toEqual({ error: 'not_found', error_description: 'no such passkey' })
    expect(await t.store.getPasskey('bob-key-credential')).toBeDefined()
    expect((await allEvents(t)).length).toBe(before)
  })

  it('without a token: 401 invalid_token challenge; without account:sessions: 403', async () => {
    const none = await account(t, 'GET', '/account/passkeys', undefined)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/)
    const { accessToken } = await signIn(t, alice, { clientId: 'other-app' })
    const narrow = await account(t, 'GET', '/account/passkeys', accessToken)
    expect(narrow.status).toBe(403)
    expect(narrow.body.error).toBe('insufficient_scope')
  })
})

describe("Admin API: a user's passkeys", () => {
  it("lists a user's passkeys (no public key) and 404s an unknown user", async () => {
    const r = await adminApi(t, 'GET', `/users/${alice.id}/passkeys`)
    expect(r.status).toBe(200)
    expect(r.body.passkeys.map((p: { id: string }) => p.id)).toEqual([
      'alice-laptop-credential',
      'alice-phone-credential',
    ])
    expect(r.body.passkeys[0]).toEqual({
      id: 'alice-laptop-credential',
      userId: alice.id,
      name: 'Laptop',
      transports: ['internal', 'hybrid'],
      backupEligible: true,
      backupState: false,
      counter: 7,
      createdAt: t.clock.now(),
      lastUsedAt: null,
    })
    expect((await adminApi(t, 'GET', '/users/usr_nobody/passkeys')).status).toBe(404)
  })

  it("removes one passkey with a passkey_removed event naming the admin; another user's is 404", async () => {
    const wrong = await adminApi(t, 'DELETE', `/users/${bob.id}/passkeys/alice-phone-credential`)
    expect(wrong.status).toBe(404)
    expect(await t.store.getPasskey('alice-phone-credential')).toBeDefined()

    const r = await adminApi(t, 'DELETE', `/users/${alice.id}/passkeys/alice-phone-credential`)
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ id: 'alice-phone-credential', userId: alice.id })
    expect(await t.store.getPasskey('alice-phone-credential')).toBeUndefined()
    const [event] = await t.store.listEvents({
      type: 'passkey_removed',
      userId: alice.id,
      limit: 1,
    })
    expect(event!.data).toEqual({ passkeyId: 'alice-phone-credential', actor: API_ACTOR })
    const again = await adminApi(t, 'DELETE', `/users/${alice.id}/passkeys/alice-phone-credential`)
    expect(again.status).toBe(404)
  })

  it('deleting a user deletes their passkeys', async () => {
    const carol = await t.createUser('carol')
    await addPasskey(carol, 'carol-credential', 'Carol')
    expect((await adminApi(t, 'DELETE', `/users/${carol.id}`)).status).toBe(200)
    expect(await t.store.getPasskey('carol-credential')).toBeUndefined()
  })
})

describe('the hosted pages with passkeys', () => {
  async function atLogin() {
    const jar = new CookieJar()
    const { params } = authorizationParams({ state: 'pk-api' })
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    return { jar, ...login }
  }
  const issuer = () => t.server.ctx.config.issuer

  it('RDR-15 the sign-in page loads one script, a file of this origin named in the CSP; no inline script', async () => {
    const { res, html } = await atLogin()
    const csp = res.headers.get('content-security-policy')!
    expect(csp).toContain(`script-src ${issuer()}/passkeys/passkeys.js;`)
    expect(csp).toContain("connect-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([
      `<script src="${issuer()}/passkeys/passkeys.js" defer>`,
    ])
    expect(html).not.toMatch(/\bon\w+=|javascript:/i)
    expect(html).toContain('<form id="passkey-sign-in" method="post"')

    const script = await fetch(`${t.url}/passkeys/passkeys.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(script.headers.get('x-content-type-options')).toBe('nosniff')
  })

  it("options need the sign-in form's token: 400 invalid_request JSON without it", async () => {
    const { fields } = await atLogin()
    const r = await fetch(`${t.url}/login/passkey/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ tx: fields.tx!, csrf: 'forged' }),
    })
    expect(r.status).toBe(400)
    expect(await r.json()).toEqual({
      error: 'invalid_request',
      error_description: 'the form has expired; reload the page',
    })
  })

  it("username-first options list the user's passkeys; an unknown username gets none", async () => {
    const { jar, fields } = await atLogin()
    const ask = async (username: string) => {
      const r = await browserFetch(jar, `${t.url}/login/passkey/options`, {
        method: 'POST',
        form: { tx: fields.tx!, csrf: fields.csrf!, username },
      })
      expect(r.status).toBe(200)
      return (await r.json()) as { challenge: string; options: { allowCredentials: unknown[] } }
    }
    const known = await ask('bob')
    // Oldest first; these were added at the same (frozen) time, so by id.
    expect(known.options.allowCredentials.map((c: any) => c.id)).toEqual([
      'bob-cas-credential',
      'bob-key-credential',
    ])
    expect((await ask('nobody')).options.allowCredentials).toEqual([])
  })

  it('a malformed or forged assertion gets the sign-in form again (400), nothing written but the failure event', async () => {
    const { jar, fields } = await atLogin()
    const sessions = await t.store.listSessions({
      userId: alice.id,
      liveOrEndedSince: 0,
      limit: 100,
    })
    for (const [challenge, credential] of [
      ['', ''],
      ['not-a-sealed-challenge', '{"id":"x"}'],
      ['a.b', 'not json'],
    ] as const) {
      const r = await browserFetch(jar, `${t.url}/login/passkey`, {
        method: 'POST',
        form: { tx: fields.tx!, csrf: fields.csrf!, challenge, credential },
      })
      expect(r.status).toBe(400)
      expect(await r.text()).toContain('This passkey could not be used to sign in.')
      expect(r.headers.get('set-cookie') ?? '').not.toContain('tessera_sso')
    }
    const [failure] = await t.store.listEvents({ type: 'sign_in_failure', limit: 1 })
    expect(failure!.data).toEqual({ reason: 'challenge_invalid', method: 'passkey' })
    expect(
      await t.store.listSessions({ userId: alice.id, liveOrEndedSince: 0, limit: 100 }),
    ).toHaveLength(sessions.length)
  })

  it('PK-05 the passkeys page and its registration options need a signed-in browser', async () => {
    const page = await fetch(`${t.url}/passkeys`)
    expect(page.status).toBe(401)
    expect(await page.text()).toContain('Sign in required')
    const options = await fetch(`${t.url}/passkeys/register/options`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'csrf=x',
    })
    expect(options.status).toBe(400)
    expect((await options.json()).error).toBe('login_required')
  })
})

describe("PK-05 registration needs this browser's recent sign-in, its CSRF token and its own challenge", () => {
  /** A browser signed in as `username` (password), at the passkeys page. */
  async function signedInBrowser(username: string) {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    const done = await submitLogin(t, login.fields, jar, username, 'correct horse battery')
    expect(done.status).toBe(303)
    const page = await browserFetch(jar, `${t.url}/passkeys`)
    expect(page.status).toBe(200)
    return { jar, csrf: formFields(await page.text()).csrf! }
  }
  const options = (jar: CookieJar, csrf: string) =>
    browserFetch(jar, `${t.url}/passkeys/register/options`, { method: 'POST', form: { csrf } })

  it("creation options: discoverable, user verification required, the user's passkeys excluded", async () => {
    const { jar, csrf } = await signedInBrowser('alice')
    const r = await options(jar, csrf)
    expect(r.status).toBe(200)
    const body = (await r.json()) as { challenge: string; options: any }
    expect(body.options.rp).toEqual({ id: 'localhost', name: 'localhost' })
    expect(body.options.user.id).toBe(Buffer.from(alice.id).toString('base64url'))
    expect(body.options.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      userVerification: 'required',
    })
    expect(body.options.attestation).toBe('none')
    expect(body.options.excludeCredentials.map((c: { id: string }) => c.id)).toEqual([
      'alice-laptop-credential',
    ])

    const forged = await options(jar, 'forged')
    expect(forged.status).toBe(400)
    expect((await forged.json()).error).toBe('invalid_request')
  })

  it('a challenge issued to another browser session is refused; nothing stored', async () => {
    const a = await signedInBrowser('alice')
    const { challenge } = (await (await options(a.jar, a.csrf)).json()) as { challenge: string }
    const b = await signedInBrowser('bob')
    const before = await t.store.listPasskeys(bob.id)
    const r = await browserFetch(b.jar, `${t.url}/passkeys/register`, {
      method: 'POST',
      form: { csrf: b.csrf, challenge, credential: '{"id":"x"}', name: 'Stolen' },
    })
    expect(r.status).toBe(400)
    expect(await r.text()).toContain('The passkey could not be added.')
    expect(await t.store.listPasskeys(bob.id)).toEqual(before)
  })

  it("PK-03 the page removes one of the user's own passkeys only, with a passkey_removed event", async () => {
    await addPasskey(alice, 'alice-page-credential', 'Old phone')
    const { jar, csrf } = await signedInBrowser('alice')
    const remove = (id: string, token = csrf) =>
      browserFetch(jar, `${t.url}/passkeys/remove`, { method: 'POST', form: { csrf: token, id } })

    const forged = await remove('alice-page-credential', 'forged')
    expect(forged.status).toBe(403)
    expect(await t.store.getPasskey('alice-page-credential')).toBeDefined()

    const others = await remove('bob-key-credential')
    expect(others.status).toBe(303)
    expect(await t.store.getPasskey('bob-key-credential')).toBeDefined()

    t.clock.advance(1000) // the newest event is then this one
    const own = await remove('alice-page-credential')
    expect(own.status).toBe(303)
    expect(own.headers.get('location')).toBe(`${t.server.ctx.config.issuer}/passkeys`)
    expect(await t.store.getPasskey('alice-page-credential')).toBeUndefined()
    const [event] = await t.store.listEvents({
      type: 'passkey_removed',
      userId: alice.id,
      limit: 1,
    })
    expect(event!.data).toEqual({ passkeyId: 'alice-page-credential', via: 'account_page' })
  })

  it('a sign-in older than account.maxAuthAgeSeconds cannot add a passkey', async () => {
    const { jar, csrf } = await signedInBrowser('alice')
    t.clock.advance((t.server.ctx.config.account.maxAuthAgeSeconds + 1) * 1000)
    const r = await options(jar, csrf)
    expect(r.status).toBe(400)
    expect(await r.json()).toEqual({
      error: 'login_required',
      error_description: 'sign in again to add a passkey',
    })
    const page = await browserFetch(jar, `${t.url}/passkeys`)
    expect(await page.text()).toContain('To add a passkey, sign in again')
  })
})

describe('an issuer on an IP literal', () => {
  let ip: TestServer
  beforeAll(async () => {
    ip = await startTestServer()
  })
  afterAll(async () => {
    await ip?.close()
  })

  it('has no RP ID: no passkey form or script on the sign-in page, no passkey endpoints', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const { html, res } = await openLogin(ip, await startAuthorize(ip, params, jar), jar)
    expect(html).not.toContain('passkey')
    expect(html).not.toContain('<script')
    expect(res.headers.get('content-security-policy')).not.toContain('script-src')
    for (const path of ['/passkeys', '/passkeys/passkeys.js']) {
      expect((await fetch(ip.url + path)).status).toBe(404)
    }
    expect((await fetch(ip.url + '/login/passkey', { method: 'POST' })).status).toBe(404)
  })
})
