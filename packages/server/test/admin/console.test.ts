import { hashAdminKey } from '../../src/admin/auth/admin-key-hash.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AdminServices } from '../../src/admin/admin-services.js'
import { CONSOLE_CSP } from '../../src/admin/console/console-layout.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { PasskeyRecord, UserRecord } from '../../src/store/types.js'
import { signInTokens } from '../helpers/grants.js'
import { browserFetch, CookieJar, formFields } from '../helpers/oauth-flow.js'
import { ADMIN_KEY, allEvents, startAdminServer, type TestServer } from './admin-helpers.js'

/** The actor of admin changes the tests make directly, as the CLI would. */
const CLI = { kind: 'cli', id: 'cli', name: 't', via: 'cli', ip: null, userAgent: null } as const

const LIMIT = 3
const IDLE = 600

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startAdminServer({
    config: {
      throttle: { adminPerIp: { limit: LIMIT, windowSeconds: 900 } },
    },
  })
  t.server.ctx.config.admin.consoleIdleSeconds = IDLE
  alice = await t.createUser('alice')
})
afterAll(async () => {
  await t.close()
})

const CONSOLE_ACTOR = { kind: 'api_key', id: 'config:ops', name: 'ops', via: 'console' }

function expectConsoleHeaders(res: Response): void {
  expect(res.headers.get('content-security-policy')).toBe(CONSOLE_CSP)
  expect(res.headers.get('x-frame-options')).toBe('DENY')
  expect(res.headers.get('referrer-policy')).toBe('no-referrer')
  expect(res.headers.get('cache-control')).toBe('no-store')
}

/** Opens the sign-in page and posts `key`; returns the response of the POST. */
async function signIn(jar: CookieJar, key: string): Promise<Response> {
  const page = await browserFetch(jar, t.url + '/admin/sign-in')
  const fields = formFields(await page.text())
  return browserFetch(jar, t.url + '/admin/sign-in', { form: { ...fields, key } })
}

async function signedInJar(): Promise<CookieJar> {
  const jar = new CookieJar()
  expect((await signIn(jar, ADMIN_KEY)).status).toBe(303)
  return jar
}

/** The CSRF token of a signed-in console page (every form of it carries the same one). */
async function csrfOf(jar: CookieJar, path: string): Promise<string> {
  const html = await (await browserFetch(jar, t.url + path)).text()
  const csrf = formFields(html).csrf
  if (!csrf) throw new Error(`no form on ${path}`)
  return csrf
}

describe('admin console sign-in', () => {
  it('/admin sends a visitor to the sign-in page; the page is strict: CSP without scripts, no framing, no referrer, no caching', async () => {
    const jar = new CookieJar()
    const root = await browserFetch(jar, t.url + '/admin')
    expect(root.status).toBe(303)
    expect(root.headers.get('location')).toBe(t.url + '/admin/sign-in')
    const page = await browserFetch(jar, t.url + '/admin/sign-in')
    expect(page.status).toBe(200)
    expectConsoleHeaders(page)
    expect(CONSOLE_CSP).toMatch(
      /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/=]+'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'$/,
    )
    const html = await page.text()
    expect(html).not.toMatch(/<script/i)
    expect(formFields(html)).toMatchObject({ csrf: expect.any(String), key: '' })
  })

  it('a wrong key gets one generic error, an event, and counts; after the limit wrong keys get 429 and the right key still signs in', async () => {
    const before = (await allEvents(t)).length
    const jar = new CookieJar()
    for (let i = 0; i < LIMIT; i++) {
      const r = await signIn(jar, `tsa_wrong-${i}`)
      expect(r.status).toBe(401)
      expectConsoleHeaders(r)
      expect(await r.text()).toContain('That admin key is not valid.')
      expect(jar.get('tessera_admin')).toBeUndefined()
    }
    const events = (await allEvents(t)).slice(before)
    expect(events.map((e) => [e.type, e.data])).toStrictEqual(
      Array.from({ length: LIMIT }, () => ['admin_auth_failure', { via: 'console' }]),
    )
    const throttled = await signIn(jar, 'tsa_wrong-again')
    expect(throttled.status).toBe(429)
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(await throttled.text()).toMatch(/Too many attempts\. Try again in \d+ minutes?\./)
    expect(jar.get('tessera_admin')).toBeUndefined()
    expect((await allEvents(t)).length).toBe(before + LIMIT)
    // Wrong keys sent by others never keep a valid key out.
    const ok = await signIn(jar, ADMIN_KEY)
    expect(ok.status).toBe(303)
    expect(ok.headers.get('location')).toBe(t.url + '/admin/users')
    expect(jar.get('tessera_admin')).toBeDefined()
    t.clock.advance(900_000)
  })

  it('a form without its CSRF token is refused before the key is looked at', async () => {
    const jar = new CookieJar()
    await browserFetch(jar, t.url + '/admin/sign-in')
    const r = await browserFetch(jar, t.url + '/admin/sign-in', { form: { key: ADMIN_KEY } })
    expect(r.status).toBe(403)
    expect(await r.text()).toContain('This form has expired. Please sign in again.')
    expect(jar.get('tessera_admin')).toBeUndefined()
  })

  it('the right key starts a console session: HttpOnly SameSite=Strict cookie, only its hash stored, an admin_sign_in event', async () => {
    const jar = new CookieJar()
    const r = await signIn(jar, ADMIN_KEY)
    expect(r.status).toBe(303)
    expect(r.headers.get('location')).toBe(t.url + '/admin/users')
    const cookie = r.headers.getSetCookie().find((c) => c.startsWith('tessera_admin='))
    expect(cookie).toMatch(
      /^tessera_admin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/,
    )
    const value = jar.get('tessera_admin')!
    const stored = await t.store.getAdminSession(sha256b64u(value))
    expect(stored).toMatchObject({
      keyId: `config:ops:${hashAdminKey(ADMIN_KEY).slice(-16)}`,
      endedAt: null,
      expiresAt: t.clock.now() + 43_200_000,
    })
    expect(await t.store.getAdminSession(value)).toBeUndefined()
    const [ev] = await t.store.listEvents({ type: 'admin_sign_in', limit: 1 })
    expect(ev).toMatchObject({ ip: '127.0.0.1', data: { actor: CONSOLE_ACTOR } })
    const users = await browserFetch(jar, t.url + '/admin/users')
    expect(users.status).toBe(200)
    expectConsoleHeaders(users)
    expect(await users.text()).toContain('alice')
  })

  it('over https the cookie is __Host-tessera_admin with Secure', async () => {
    const s = await startAdminServer({ config: { issuer: 'https://auth.example.test' } })
    try {
      const jar = new CookieJar()
      await browserFetch(jar, s.url + '/admin/sign-in')
      const page = await browserFetch(jar, s.url + '/admin/sign-in')
      const fields = formFields(await page.text())
      const r = await browserFetch(jar, s.url + '/admin/sign-in', {
        form: { ...fields, key: ADMIN_KEY },
      })
      expect(r.status).toBe(303)
      expect(r.headers.get('location')).toBe('https://auth.example.test/admin/users')
      expect(r.headers.getSetCookie().find((c) => c.startsWith('__Host-tessera_admin='))).toMatch(
        /^__Host-tessera_admin=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200$/,
      )
    } finally {
      await s.close()
    }
  })
})

describe('admin console pages and actions', () => {
  it('without a console session, pages and actions redirect to the sign-in page and change nothing', async () => {
    const jar = new CookieJar()
    for (const path of [
      '/admin/users',
      `/admin/users/${alice.id}`,
      '/admin/sessions',
      '/admin/events',
    ]) {
      const r = await browserFetch(jar, t.url + path)
      expect([path, r.status, r.headers.get('location')]).toStrictEqual([
        path,
        303,
        t.url + '/admin/sign-in',
      ])
    }
    const r = await browserFetch(jar, `${t.url}/admin/users/${alice.id}/disable`, {
      form: { csrf: 'x' },
    })
    expect(r.status).toBe(303)
    expect((await t.store.getUser(alice.id))?.disabled).toBe(false)
  })

  it('an action without the session-bound CSRF token is 403 and changes nothing', async () => {
    const jar = await signedInJar()
    const other = await signedInJar()
    const foreign = await csrfOf(other, `/admin/users/${alice.id}`)
    for (const form of [{}, { csrf: 'forged' }, { csrf: foreign }] as Record<string, string>[]) {
      const r = await browserFetch(jar, `${t.url}/admin/users/${alice.id}/disable`, { form })
      expect(r.status).toBe(403)
      expectConsoleHeaders(r)
    }
    expect((await t.store.getUser(alice.id))?.disabled).toBe(false)
  })

  it('disable from the user page: done through the services, recorded with via console, the page says so', async () => {
    const jar = await signedInJar()
    const csrf = await csrfOf(jar, `/admin/users/${alice.id}`)
    const r = await browserFetch(jar, `${t.url}/admin/users/${alice.id}/disable`, {
      form: { csrf },
    })
    expect(r.status).toBe(303)
    expect(r.headers.get('location')).toBe(`${t.url}/admin/users/${alice.id}?done=disabled`)
    expect((await t.store.getUser(alice.id))?.disabled).toBe(true)
    const [ev] = await t.store.listEvents({ type: 'user_disabled', userId: alice.id })
    expect(ev?.data).toStrictEqual({ actor: CONSOLE_ACTOR })
    const page = await (await browserFetch(jar, r.headers.get('location')!)).text()
    expect(page).toContain('The user is disabled and signed out everywhere.')
    // Twice: the service's refusal is shown, nothing else happens.
    const again = await browserFetch(jar, `${t.url}/admin/users/${alice.id}/disable`, {
      form: { csrf },
    })
    expect(again.status).toBe(409)
    expect(await again.text()).toContain(`user ${alice.id} is already disabled`)
    await browserFetch(jar, `${t.url}/admin/users/${alice.id}/enable`, { form: { csrf } })
    expect((await t.store.getUser(alice.id))?.disabled).toBe(false)
  })

  it('revoke returns only to a page of the console: another target is refused and revokes nothing', async () => {
    const s = await signInTokens(t, alice)
    const sid = JSON.parse(
      Buffer.from(s.body.access_token.split('.')[1], 'base64url').toString(),
    ).sid
    const jar = await signedInJar()
    const csrf = await csrfOf(jar, '/admin/sessions')
    for (const back of [
      'https://evil.example.test/',
      '//evil.example.test/admin/sessions',
      '/admin/../logout',
      '/admin/sessions?x=<y>',
    ]) {
      const r = await browserFetch(jar, `${t.url}/admin/sessions/${sid}/revoke`, {
        form: { csrf, back },
      })
      expect([back, r.status, r.headers.get('location')]).toStrictEqual([back, 400, null])
    }
    expect((await t.store.getSession(sid))?.state).toBe('active')
    const ok = await browserFetch(jar, `${t.url}/admin/sessions/${sid}/revoke`, {
      form: { csrf, back: `/admin/sessions?user=${alice.id}` },
    })
    expect(ok.headers.get('location')).toBe(`${t.url}/admin/sessions?user=${alice.id}&done=revoked`)
    expect(await t.store.getSession(sid)).toMatchObject({ state: 'revoked', reason: 'admin' })
  })

  it('values are escaped: a name with markup is shown as text', async () => {
    const admin = new AdminServices(t.server.ctx)
    const u = await admin.users.create(CLI, {
      username: 'mallory',
      password: 'mallory password',
      name: '<img src=x onerror=alert(1)>',
    })
    const jar = await signedInJar()
    const html = await (await browserFetch(jar, `${t.url}/admin/users/${u.id}`)).text()
    expect(html).not.toContain('<img src=x')
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;')
  })

  it('the user page lists passkeys (name, created, last used, backup flags, never the public key); remove is CSRF-checked, recorded with via console, and removes only that passkey', async () => {
    const u = await t.createUser('paula')
    const add = (id: string, name: string, o: Partial<PasskeyRecord>) =>
      t.store.createPasskey(
        {
          id,
          userId: u.id,
          publicKey: Buffer.from(`cose-key-of-${id}`).toString('base64url'),
          counter: 3,
          transports: ['internal', 'hybrid'],
          backupEligible: true,
          backupState: true,
          name,
          createdAt: Date.UTC(2026, 0, 2, 3, 4, 5),
          lastUsedAt: Date.UTC(2026, 1, 3, 4, 5, 6),
          ...o,
        },
        t.server.ctx.events.make('passkey_registered', { userId: u.id, data: { passkeyId: id } }),
      )
    await add('paula-phone-cred', 'Phone <b>', {})
    await add('paula-key-cred', 'Security key', {
      backupEligible: false,
      backupState: false,
      transports: ['usb'],
      lastUsedAt: null,
    })
    const jar = await signedInJar()
    const page = `/admin/users/${u.id}`
    const html = await (await browserFetch(jar, t.url + page)).text()
    const section = html.slice(html.indexOf('<h2>Passkeys</h2>'), html.indexOf('<h2>Sessions</h2>'))
    expect(section).toContain('Phone &#60;b&#62;')
    expect(section).toContain('Security key')
    expect(section).toContain('2026-01-02')
    expect(section).toContain('2026-02-03')
    expect(section).toContain('never')
    expect(section).toContain('eligible, backed up')
    expect(section).toContain('not eligible (device-bound)')
    expect(section).not.toContain(Buffer.from('cose-key-of-paula-phone-cred').toString('base64url'))
    const removeUrl = `${t.url}${page}/passkeys/paula-phone-cred/remove`
    expect(section).toContain(`action="${removeUrl}"`)

    // Without the session's CSRF token: 403, nothing removed, no event.
    for (const form of [{}, { csrf: 'forged' }] as Record<string, string>[]) {
      const r = await browserFetch(jar, removeUrl, { form })
      expect(r.status).toBe(403)
    }
    expect((await t.store.listPasskeys(u.id)).map((p) => p.id).sort()).toEqual([
      'paula-key-cred',
      'paula-phone-cred',
    ])
    expect(await t.store.listEvents({ type: 'passkey_removed', userId: u.id })).toEqual([])

    const csrf = await csrfOf(jar, page)
    const r = await browserFetch(jar, removeUrl, { form: { csrf } })
    expect(r.status).toBe(303)
    expect(r.headers.get('location')).toBe(`${t.url}${page}?done=passkey-removed`)
    expect((await t.store.listPasskeys(u.id)).map((p) => p.id)).toEqual(['paula-key-cred'])
    const [ev] = await t.store.listEvents({ type: 'passkey_removed', userId: u.id })
    expect(ev?.data).toStrictEqual({ actor: CONSOLE_ACTOR, passkeyId: 'paula-phone-cred' })
    const after = await (await browserFetch(jar, r.headers.get('location')!)).text()
    expect(after).toContain('The passkey is removed: it can no longer sign in.')
    expect(after).not.toContain('Phone &#60;b&#62;')

    // Another user's passkey through this user's page: 404, nothing removed.
    const other = await browserFetch(
      jar,
      `${t.url}/admin/users/${alice.id}/passkeys/paula-key-cred/remove`,
      {
        form: { csrf },
      },
    )
    expect(other.status).toBe(404)
    expect(await t.store.getPasskey('paula-key-cred')).toBeDefined()
  })

  it('bad filters are a 400 page naming the parameter', async () => {
    const jar = await signedInJar()
    const r = await browserFetch(jar, t.url + '/admin/sessions?state=zombie')
    expect(r.status).toBe(400)
    expectConsoleHeaders(r)
    expect(await r.text()).toContain('state: must be one of active, pending')
  })
})

describe('admin console session lifecycle', () => {
  it('sign-out ends the console session in the store and the old cookie no longer works', async () => {
    const jar = await signedInJar()
    const value = jar.get('tessera_admin')!
    const csrf = await csrfOf(jar, '/admin/users')
    const r = await browserFetch(jar, t.url + '/admin/sign-out', { form: { csrf } })
    expect(r.status).toBe(303)
    expect(r.headers.get('location')).toBe(t.url + '/admin/sign-in?signed_out=1')
    expect(r.headers.getSetCookie()).toContain(
      'tessera_admin=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0',
    )
    expect((await t.store.getAdminSession(sha256b64u(value)))?.endedAt).toBe(t.clock.now())
    const replay = new CookieJar()
    replay.set('tessera_admin', value)
    expect((await browserFetch(replay, t.url + '/admin/users')).status).toBe(303)
    const [ev] = await t.store.listEvents({ type: 'admin_sign_out', limit: 1 })
    expect(ev?.data).toStrictEqual({ actor: CONSOLE_ACTOR })
  })

  it('an idle console session ends after admin.consoleIdleSeconds', async () => {
    const jar = await signedInJar()
    const id = sha256b64u(jar.get('tessera_admin')!)
    t.clock.advance((IDLE - 1) * 1000)
    expect((await browserFetch(jar, t.url + '/admin/users')).status).toBe(200)
    t.clock.advance(IDLE * 1000)
    const r = await browserFetch(jar, t.url + '/admin/users')
    expect(r.headers.get('location')).toBe(t.url + '/admin/sign-in')
    expect((await t.store.getAdminSession(id))?.endedAt).toBe(t.clock.now())
  })

  it('revoking the admin key that signed in ends its console sessions at once', async () => {
    const admin = new AdminServices(t.server.ctx)
    const { key, record } = await admin.keys.create(CLI, 'temp')
    const jar = new CookieJar()
    expect((await signIn(jar, key)).status).toBe(303)
    expect((await browserFetch(jar, t.url + '/admin/users')).status).toBe(200)
    const id = sha256b64u(jar.get('tessera_admin')!)
    expect((await t.store.getAdminSession(id))?.endedAt).toBeNull()
    await admin.keys.revoke(CLI, record.id)
    const r = await browserFetch(jar, t.url + '/admin/users')
    expect(r.status).toBe(303)
    expect(r.headers.get('location')).toBe(t.url + '/admin/sign-in')
    expect((await t.store.getAdminSession(id))?.endedAt).toBe(t.clock.now())
  })
})
