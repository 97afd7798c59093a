import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decodeJwt } from 'jose'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { ConfigError } from '../../src/config/config.js'
import { codeForm, postForm } from '../helpers/grants.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  openLogin,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { TestSmtp } from '../helpers/smtp.js'
import {
  defaultClients,
  startTestServer,
  TEST_SECRET,
  type TestServer,
} from '../helpers/test-server.js'
import { ADMIN_KEY, adminApi, startAdminServer } from '../admin/admin-helpers.js'

let smtp: TestSmtp
let t: TestServer

const clients = defaultClients.map((c) =>
  c.id === 'web-app' ? { ...c, signUp: true, scopes: [...(c.scopes ?? []), 'email'] } : c,
)

beforeAll(async () => {
  smtp = await new TestSmtp({ user: 'mailer', pass: 'smtp-pass-never-logged' }).start()
  t = await startAdminServer({
    clients,
    config: {
      email: {
        smtp: {
          host: '127.0.0.1',
          port: smtp.port,
          requireTls: false,
          user: 'mailer',
          pass: 'smtp-pass-never-logged',
        },
        from: 'auth@example.test',
      },
    },
  })
})
afterAll(async () => {
  await t.close()
  await smtp.close()
})

/** Starts an authorization of `clientId` and opens the sign-up page linked from the sign-in page. */
async function openSignUp(clientId = 'web-app') {
  const jar = new CookieJar()
  const a = authorizationParams(
    clientId === 'other-app'
      ? {
          clientId,
          redirectUri: 'https://other.example.test/callback',
          scope: 'openid offline_access',
        }
      : { clientId, scope: 'openid email profile offline_access' },
  )
  const login = await openLogin(t, await startAuthorize(t, a.params, jar), jar)
  const link = /href="([^"]*\/signup\?tx=[^"]*)"/.exec(login.html)?.[1]
  return { jar, a, login, link: link?.replace(/&amp;/g, '&') }
}

async function signUp(email: string, password: string) {
  const { jar, a, link } = await openSignUp()
  expect(link).toBeDefined()
  const page = await browserFetch(jar, link as string)
  expect(page.status).toBe(200)
  const res = await browserFetch(jar, t.url + ACCOUNT_PATHS.signUp, {
    form: { ...formFields(await page.text()), email, password },
  })
  return { res, jar, a }
}

describe('sign-up, email verification', () => {
  it('sign-up is off by default: no link, and the page answers 404', async () => {
    const { link, login } = await openSignUp('other-app')
    expect(link).toBeUndefined()
    const tx = login.fields.tx as string
    const res = await fetch(`${t.url}${ACCOUNT_PATHS.signUp}?tx=${encodeURIComponent(tx)}`)
    expect(res.status).toBe(404)
  })

  it('refuses short and common passwords (NIST SP 800-63B), and writes nothing', async () => {
    const short = await signUp('short@example.test', 'abc123')
    expect(short.res.status).toBe(400)
    expect(await short.res.text()).toContain('at least 8 characters')
    const common = await signUp('common@example.test', 'iloveyou2')
    expect(common.res.status).toBe(400)
    expect(await common.res.text()).toContain('too common')
    expect(await t.store.getUsersByEmail('common@example.test')).toEqual([])
  })

  it('signs up, sends a verification link that verifies once; email_verified in ID token and userinfo', async () => {
    const from = smtp.messages.length
    const { res, a } = await signUp('Grace@example.test', 'lovelace analytical engine')
    expect(res.status).toBe(303)
    const code = new URL(res.headers.get('location') as string).searchParams.get('code') as string
    const tokens = await postForm(
      t.url + '/oauth/token',
      codeForm({ code, verifier: a.codeVerifier, redirectUri: a.redirectUri, clientId: 'web-app' }),
    )
    expect(tokens.status).toBe(200)
    expect(decodeJwt(tokens.body.id_token as string).email_verified).toBe(false)
    const [user] = await t.store.getUsersByEmail('grace@example.test')
    expect(user?.emailVerifiedAt).toBeNull()
    expect((await t.store.listEvents({ userId: user?.id })).map((e) => e.type)).toContain(
      'user_signed_up',
    )

    const mail = await smtp.next((m) => m.subject === 'Confirm your email address', from)
    expect(smtp.logins).toContain('mailer')
    const link = TestSmtp.link(mail, ACCOUNT_PATHS.verifyEmail)
    const ok = await fetch(link)
    expect(ok.status).toBe(200)
    expect((await t.store.getUser(user?.id as string))?.emailVerifiedAt).not.toBeNull()
    // ACC-02 replay of the verification link
    const replay = await fetch(link)
    expect(replay.status).toBe(400)

    const info = await fetch(t.url + '/userinfo', {
      headers: { authorization: `Bearer ${tokens.body.access_token as string}` },
    })
    expect(((await info.json()) as { email_verified: boolean }).email_verified).toBe(true)
    const refreshed = await postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
      client_id: 'web-app',
    })
    expect(decodeJwt(refreshed.body.id_token as string).email_verified).toBe(true)
  })

  it('ACC-02 a verification link is refused on replay, tampered, expired, or after the address changed', async () => {
    const ctx = t.server.ctx
    const mailFor = async (user: Awaited<ReturnType<TestServer['createUser']>>) => {
      const from = smtp.messages.length
      ctx.accounts.queueVerification(ctx, user)
      const m = await smtp.next(
        (x) =>
          x.subject === 'Confirm your email address' &&
          JSON.stringify(x.to).includes(`${user.username}@`),
        from,
      )
      return TestSmtp.link(m, ACCOUNT_PATHS.verifyEmail)
    }
    const u = await t.createUser('acc02')
    const link = await mailFor(u)
    const url = new URL(link)
    const token = url.searchParams.get('t') as string
    url.searchParams.set(
      't',
      token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.slice(-1),
    )
    expect((await fetch(url)).status).toBe(400)
    expect((await t.store.getUser(u.id))?.emailVerifiedAt).toBeNull()
    expect((await fetch(link)).status).toBe(200)
    const verifiedAt = (await t.store.getUser(u.id))?.emailVerifiedAt
    expect(verifiedAt).not.toBeNull()
    expect((await fetch(link)).status).toBe(400)

    const late = await t.createUser('acc02late')
    const lateLink = await mailFor(late)
    t.clock.advance(ctx.config.accounts.verifyLinkTtlSeconds * 1000)
    expect((await fetch(lateLink)).status).toBe(400)
    expect((await t.store.getUser(late.id))?.emailVerifiedAt).toBeNull()

    // A link sent to an address the user no longer has proves nothing about the new one.
    const moved = await t.createUser('acc02moved')
    const movedLink = await mailFor(moved)
    await adminApi(t, 'PATCH', `/users/${moved.id}`, { email: 'elsewhere@example.test' })
    expect((await fetch(movedLink)).status).toBe(400)
    expect((await t.store.getUser(moved.id))?.emailVerifiedAt).toBeNull()
  })

  it('a taken address is refused', async () => {
    await signUp('taken@example.test', 'first owner passphrase')
    const again = await signUp('TAKEN@example.test', 'second owner passphrase')
    expect(again.res.status).toBe(409)
  })

  it('the account area resends the verification mail (throttled) and changes the password, ending other sessions', async () => {
    const { jar } = await signUp('hopper@example.test', 'cobol compiler pioneer')
    const other = await signUp('hopper2@example.test', 'cobol compiler pioneer')
    void other
    const page = await browserFetch(jar, t.url + ACCOUNT_PATHS.accountPage)
    const html = await page.text()
    expect(html).toContain('(not verified)')
    const fields = formFields(html)
    const from = smtp.messages.length
    const resent = await browserFetch(jar, t.url + ACCOUNT_PATHS.accountResend, {
      form: { csrf: fields.csrf as string },
    })
    expect(resent.status).toBe(200)
    await smtp.next(
      (m) => m.subject === 'Confirm your email address' && JSON.stringify(m.to).includes('hopper@'),
      from,
    )
    let last = resent
    for (let i = 0; i < 4; i++) {
      last = await browserFetch(jar, t.url + ACCOUNT_PATHS.accountResend, {
        form: { csrf: fields.csrf as string },
      })
    }
    expect(last.status).toBe(429)

    const [user] = await t.store.getUsersByEmail('hopper@example.test')
    const wrong = await browserFetch(jar, t.url + ACCOUNT_PATHS.accountPassword, {
      form: {
        csrf: fields.csrf as string,
        current_password: 'nope nope nope',
        new_password: 'a fresh passphrase',
      },
    })
    expect(wrong.status).toBe(400)
    const changed = await browserFetch(jar, t.url + ACCOUNT_PATHS.accountPassword, {
      form: {
        csrf: fields.csrf as string,
        current_password: 'cobol compiler pioneer',
        new_password: 'a fresh passphrase',
      },
    })
    expect(changed.status).toBe(200)
    const events = (await t.store.listEvents({ userId: user?.id })).map((e) => e.type)
    expect(events).toContain('password_changed')
    await smtp.next(
      (m) => m.subject === 'Your password was changed' && JSON.stringify(m.to).includes('hopper@'),
      from,
    )
    // Still signed in here, with a fresh sign-in.
    expect((await browserFetch(jar, t.url + ACCOUNT_PATHS.accountPage)).status).toBe(200)
  })

  it('Admin API: sees verification, resends it, sends a reset, turns sign-up on and off', async () => {
    const u = await t.createUser('ada')
    const got = await adminApi(t, 'GET', `/users/${u.id}`)
    expect(got.body.emailVerified).toBe(false)
    const from = smtp.messages.length
    const resend = await adminApi(t, 'POST', `/users/${u.id}/verification-email`)
    expect(resend.status).toBe(202)
    await smtp.next(
      (m) => m.subject === 'Confirm your email address' && JSON.stringify(m.to).includes('ada@'),
      from,
    )
    const reset = await adminApi(t, 'POST', `/users/${u.id}/password-reset-email`)
    expect(reset.status).toBe(202)
    await smtp.next(
      (m) => m.subject === 'Reset your password' && JSON.stringify(m.to).includes('ada@'),
      from,
    )

    expect((await adminApi(t, 'GET', '/settings/sign-up')).body).toEqual({
      enabled: false,
      source: 'config',
      mailAvailable: true,
    })
    const on = await adminApi(t, 'PUT', '/settings/sign-up', { enabled: true })
    expect(on.body.enabled).toBe(true)
    expect((await openSignUp('other-app')).link).toBeDefined()
    await adminApi(t, 'PUT', '/settings/sign-up', { enabled: null })
    expect((await openSignUp('other-app')).link).toBeUndefined()
    expect((await adminApi(t, 'PUT', '/settings/sign-up', { enabled: 'yes' })).status).toBe(400)
  })
})

describe('/dev/mail', () => {
  it('tessera dev catches mail in memory and shows it; without dev mode the page does not exist', async () => {
    const dev = await startTestServer({ clients, config: { dev: true } })
    try {
      const u = await dev.createUser('devuser')
      dev.server.ctx.accounts.queueVerification(dev.server.ctx, u)
      await dev.server.ctx.mailer.idle()
      const page = await fetch(dev.url + ACCOUNT_PATHS.devMail)
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(html).toContain('Confirm your email address')
      const link = /href="([^"]*\/verify-email\?t=[^"]*)"/.exec(html)?.[1] as string
      expect((await fetch(link)).status).toBe(200)
    } finally {
      await dev.close()
    }
    expect((await fetch(t.url + ACCOUNT_PATHS.devMail)).status).toBe(404)
  })
})

describe('email configuration', () => {
  const base = { issuer: 'https://auth.example.test', secret: TEST_SECRET }
  it.each([
    [{ smtp: { host: 'smtp.example.test' } }, 'email.from'],
    [{ smtp: { host: 'bad host' }, from: 'a@b.c' }, 'email.smtp.host'],
    [{ smtp: { host: 'h', port: 70000 }, from: 'a@b.c' }, 'email.smtp.port'],
    [{ smtp: { host: 'h', user: 'u' }, from: 'a@b.c' }, 'email.smtp.pass'],
    [{ smtp: { host: 'h', secure: 'yes' }, from: 'a@b.c' }, 'email.smtp.secure'],
    [{ from: 'a@b.c\r\nBcc: x@y.z' }, 'email.from'],
    [{ templatesDir: '/nonexistent/dir' }, 'email.templatesDir'],
  ])('%j is refused naming %s, without the password', (email, setting) => {
    let err: unknown
    try {
      resolveConfig({ ...base, email: email as never })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).setting).toBe(setting)
  })
})

describe('admin console', () => {
  it('shows whether the address is verified and sends verification and reset mails', async () => {
    const u = await t.createUser('console-user')
    const jar = new CookieJar()
    const signIn = await browserFetch(jar, t.url + '/admin/sign-in')
    const signed = await browserFetch(jar, t.url + '/admin/sign-in', {
      form: { ...formFields(await signIn.text()), key: ADMIN_KEY },
    })
    expect(signed.status).toBe(303)
    const page = await browserFetch(jar, `${t.url}/admin/users/${u.id}`)
    const html = await page.text()
    expect(html).toContain('unverified')
    expect(html).toContain('Send verification mail')
    const csrf = formFields(html).csrf as string
    const from = smtp.messages.length
    const sent = await browserFetch(jar, `${t.url}/admin/users/${u.id}/verification-email`, {
      form: { csrf },
    })
    expect(sent.status).toBe(303)
    await smtp.next(
      (m) =>
        m.subject === 'Confirm your email address' &&
        JSON.stringify(m.to).includes('console-user@'),
      from,
    )
    const reset = await browserFetch(jar, `${t.url}/admin/users/${u.id}/password-reset-email`, {
      form: { csrf },
    })
    expect(reset.status).toBe(303)
    await smtp.next(
      (m) => m.subject === 'Reset your password' && JSON.stringify(m.to).includes('console-user@'),
      from,
    )
    const events = (await t.store.listEvents({ userId: u.id })).map((e) => e.type)
    expect(events).toEqual(
      expect.arrayContaining(['email_verification_sent', 'password_reset_requested']),
    )
  })
})
