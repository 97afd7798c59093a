/**
 * The `verify-email` session task: a client (or the server) that requires a verified address gives
 * the sessions of an unverified user `pending` with the task `verify-email`, no API access tokens,
 * until the user follows the mailed verification link, on any browser or device. Real server,
 * real SMTP (smtp-server), real SQLite file.
 */
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig } from '../../src/config/resolve.js'
import type { ClientConfig } from '../../src/config/config.js'
import { adminApi, startAdminServer } from '../admin/admin-helpers.js'
import { postForm } from '../helpers/grants.js'
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
  API_A,
  defaultClients,
  TEST_SECRET,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'
import { claims, codeFrom, enrolTotp, passwordStep, redeem } from '../mfa/mfa-helpers.js'

let smtp: TestSmtp | undefined
let t: TestServer | undefined
afterEach(async () => {
  await t?.close()
  await smtp?.close()
  t = undefined
  smtp = undefined
})

const VERIFY_MAIL = 'Confirm your email address'

const webApp = (extra: Partial<ClientConfig>): ClientConfig[] =>
  defaultClients.map((c) => (c.id === 'web-app' ? { ...c, signUp: true, ...extra } : c))

/** Both tasks apply to this client. */
const strictClient: ClientConfig = {
  id: 'strict-app',
  redirectUris: [WEB_REDIRECT],
  audiences: [API_A],
  scopes: ['openid', 'email', 'offline_access', 'read'],
  requireMfa: true,
  requireVerifiedEmail: true,
}

async function start(o: {
  clients: ClientConfig[]
  serverWide?: boolean
}): Promise<{ t: TestServer; smtp: TestSmtp }> {
  smtp = await new TestSmtp().start()
  t = await startAdminServer({
    clients: o.clients,
    config: {
      email: {
        smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
        from: 'auth@example.test',
      },
      ...(o.serverWide !== undefined ? { accounts: { requireVerifiedEmail: o.serverWide } } : {}),
    },
  })
  return { t, smtp }
}

/** Signs up on the hosted page of web-app, like a browser; returns the redirect to the client. */
async function signUp(s: TestServer, email: string) {
  const jar = new CookieJar()
  const a = authorizationParams({ scope: 'openid email profile offline_access' })
  const login = await openLogin(s, await startAuthorize(s, a.params, jar), jar)
  const link = /href="([^"]*\/signup\?tx=[^"]*)"/.exec(login.html)?.[1]?.replace(/&amp;/g, '&')
  if (!link) throw new Error('no sign-up link on the sign-in page')
  const page = await browserFetch(jar, link)
  const res = await browserFetch(jar, s.url + ACCOUNT_PATHS.signUp, {
    form: { ...formFields(await page.text()), email, password: 'a long enough passphrase' },
  })
  expect(res.status).toBe(303)
  return { res, jar, codeVerifier: a.codeVerifier, redirectUri: a.redirectUri, clientId: 'web-app' }
}

function refresh(s: TestServer, rt: string, clientId: string, resource?: string) {
  return postForm(s.url + '/oauth/token', {
    grant_type: 'refresh_token',
    refresh_token: rt,
    client_id: clientId,
    ...(resource ? { resource } : {}),
  })
}

function sessionRow(s: TestServer, id: string): { state: string; task: string | null } {
  const d = new BetterSqlite3(s.dbFile, { readonly: true, fileMustExist: true })
  try {
    return d.prepare('select state, task from sessions where id = ?').get(id) as {
      state: string
      task: string | null
    }
  } finally {
    d.close()
  }
}

/** The verification link of the latest verification mail to `address` (from message `from` on). */
async function verificationLink(m: TestSmtp, address: string, from = 0): Promise<string> {
  const mail = await m.next(
    (x) => x.subject === VERIFY_MAIL && JSON.stringify(x.to).includes(address),
    from,
  )
  return TestSmtp.link(mail, ACCOUNT_PATHS.verifyEmail)
}

describe('ACC-03 verify-email task after sign-up', () => {
  it('ACC-03 sign-up to a client that requires a verified address: pending verify-email, no API token, tessera_task in ID token and userinfo; the mailed link, opened elsewhere, activates it', async () => {
    const { t, smtp } = await start({ clients: webApp({ requireVerifiedEmail: true }) })
    const flow = await signUp(t, 'ada@example.test')
    const code = codeFrom(flow.res)

    // An API token at the code exchange is refused before the code is spent.
    const early = await redeem(t, flow, code, { resource: API_A })
    expect(early.status).toBe(400)
    expect(early.body).toEqual({
      error: 'session_pending',
      error_description:
        'the session is pending the task verify-email: complete it before requesting tokens for an API',
      tessera_task: 'verify-email',
    })
    const tokens = await redeem(t, flow, code)
    expect(tokens.status).toBe(200)
    const id = claims(tokens.body.id_token)
    expect(id.tessera_task).toBe('verify-email')
    expect(id.email_verified).toBe(false)
    expect(claims(tokens.body.access_token).aud).toBe(t.url)
    expect(sessionRow(t, id.sid)).toEqual({ state: 'pending', task: 'verify-email' })

    const auth = { authorization: `Bearer ${tokens.body.access_token}` }
    const ui = (await (await fetch(t.url + '/userinfo', { headers: auth })).json()) as Record<
      string,
      unknown
    >
    expect(ui.tessera_task).toBe('verify-email')

    // A refresh for an API is refused; one for the issuer still says the task.
    const refused = await refresh(t, tokens.body.refresh_token, 'web-app', API_A)
    expect(refused.status).toBe(400)
    expect(refused.body.error).toBe('session_pending')
    expect(refused.body.tessera_task).toBe('verify-email')
    const issuer = await refresh(t, tokens.body.refresh_token, 'web-app')
    expect(issuer.status).toBe(200)
    expect(claims(issuer.body.id_token).tessera_task).toBe('verify-email')

    // The task route: the account page, with the way back to the application's origin only.
    const back = encodeURIComponent('https://app.example.test/home')
    const page = await browserFetch(
      flow.jar,
      `${t.url}${ACCOUNT_PATHS.accountPage}?client_id=web-app&return_to=${back}`,
    )
    const html = await page.text()
    expect(page.status).toBe(200)
    expect(html).toContain('(not verified)')
    expect(html).toContain('<a id="back" href="https://app.example.test/home">')
    const from = smtp.messages.length
    const resent = await browserFetch(flow.jar, t.url + ACCOUNT_PATHS.accountResend, {
      form: formFields(html),
    })
    expect(resent.status).toBe(200)
    expect(await resent.text()).toContain('<a id="back" href="https://app.example.test/home">')
    const elsewhere = await browserFetch(
      flow.jar,
      `${t.url}${ACCOUNT_PATHS.accountPage}?client_id=web-app&return_to=${encodeURIComponent('https://evil.example.test/')}`,
    )
    expect(await elsewhere.text()).not.toContain('id="back"')

    // The link is opened on another device: no cookie of the browser that signed up.
    const link = await verificationLink(smtp, 'ada@example.test', from)
    const opened = await fetch(link)
    expect(opened.status).toBe(200)
    expect(sessionRow(t, id.sid)).toEqual({ state: 'active', task: null })
    const api = await refresh(t, issuer.body.refresh_token, 'web-app', API_A)
    expect(api.status).toBe(200)
    expect(claims(api.body.access_token).aud).toBe(API_A)
    const after = claims(api.body.id_token)
    expect(after.tessera_task).toBeUndefined()
    expect(after.email_verified).toBe(true)
    const done = await t.store.listEvents({ type: 'session_task_completed', limit: 5 })
    expect(done.map((e) => [e.sessionId, e.data])).toEqual([
      [id.sid, { task: 'verify-email', method: 'email_link' }],
    ])
  })

  it('ACC-03 the link completes the task of every pending session of the user, on every browser, and no one else’s', async () => {
    const { t, smtp } = await start({ clients: webApp({ requireVerifiedEmail: true }) })
    const first = await signUp(t, 'babbage@example.test')
    const one = await redeem(t, first, codeFrom(first.res))
    // The same user signs in with the password on a second browser: pending too.
    const second = await passwordStep(t, {
      username: 'babbage@example.test',
      password: 'a long enough passphrase',
    })
    const two = await redeem(t, second, codeFrom(second.res))
    // Someone else, unverified too, stays pending.
    const other = await signUp(t, 'lovelace@example.test')
    const three = await redeem(t, other, codeFrom(other.res))
    const sids = [one, two, three].map((x) => claims(x.body.id_token).sid as string)
    expect(sids.map((s) => sessionRow(t, s).task)).toEqual([
      'verify-email',
      'verify-email',
      'verify-email',
    ])

    expect((await fetch(await verificationLink(smtp, 'babbage@example.test'))).status).toBe(200)
    expect(sids.map((s) => sessionRow(t, s))).toEqual([
      { state: 'active', task: null },
      { state: 'active', task: null },
      { state: 'pending', task: 'verify-email' },
    ])
    const events = await t.store.listEvents({ type: 'session_task_completed', limit: 10 })
    expect(events.map((e) => e.sessionId).sort()).toEqual([sids[0], sids[1]].sort())
  })
})

describe('ACC-04 a verified user is never pending', () => {
  it('ACC-04 server-wide requireVerifiedEmail: an unverified user is pending, a verified one (link or admin mark) is active, a client that opts out is unaffected', async () => {
    const { t } = await start({
      serverWide: true,
      clients: defaultClients.map((c) =>
        c.id === 'native-app' ? { ...c, requireVerifiedEmail: false } : c,
      ),
    })
    await t.createUser('alice')
    const pending = await passwordStep(t)
    const p = await redeem(t, pending, codeFrom(pending.res))
    expect(claims(p.body.id_token).tessera_task).toBe('verify-email')

    // The same unverified user through a client that opts out: active, API token at once.
    const native = await passwordStep(t, {
      clientId: 'native-app',
      redirectUri: 'com.example.app:/callback',
      scope: 'openid offline_access read',
    })
    const n = await redeem(t, native, codeFrom(native.res), { resource: API_A })
    expect(n.status).toBe(200)
    expect(claims(n.body.id_token).tessera_task).toBeUndefined()

    // Verified by a link: active, and an API token at the code exchange.
    const bob = await t.createUser('bob')
    await t.store.updateUser({ ...bob, emailVerifiedAt: t.clock.now() })
    const b = await passwordStep(t, { username: 'bob' })
    const bt = await redeem(t, b, codeFrom(b.res), { resource: API_A })
    expect(bt.status).toBe(200)
    expect(claims(bt.body.id_token).tessera_task).toBeUndefined()
    expect(sessionRow(t, claims(bt.body.id_token).sid).state).toBe('active')

    // Marked verified by an admin (metadata.email_verified, as the email_verified claim honours).
    await t.createUser('carol', undefined, { email_verified: true })
    const c = await passwordStep(t, { username: 'carol' })
    const ct = await redeem(t, c, codeFrom(c.res), { resource: API_A })
    expect(ct.status).toBe(200)
  })
})

describe('ACC-05 the setting off', () => {
  it('ACC-05 by default a sign-up gets an active session and API tokens at once, unverified', async () => {
    const { t } = await start({ clients: webApp({}) })
    const flow = await signUp(t, 'hopper@example.test')
    const tokens = await redeem(t, flow, codeFrom(flow.res), { resource: API_A })
    expect(tokens.status).toBe(200)
    const id = claims(tokens.body.id_token)
    expect(id.tessera_task).toBeUndefined()
    expect(id.email_verified).toBe(false)
    expect(sessionRow(t, id.sid)).toEqual({ state: 'active', task: null })
  })
})

describe('ACC-06 both tasks: setup-mfa first, then verify-email', () => {
  it('ACC-06 a client that requires MFA and a verified address: setup-mfa, then after enrolment verify-email, then the link activates', async () => {
    const { t, smtp } = await start({ clients: [...defaultClients, strictClient] })
    const alice = await t.createUser('alice')
    const flow = await passwordStep(t, {
      clientId: 'strict-app',
      scope: 'openid email offline_access read',
    })
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    const sid = claims(tokens.body.id_token).sid as string
    expect(claims(tokens.body.id_token).tessera_task).toBe('setup-mfa')
    expect(sessionRow(t, sid)).toEqual({ state: 'pending', task: 'setup-mfa' })

    await enrolTotp(t, flow.jar)
    expect(sessionRow(t, sid)).toEqual({ state: 'pending', task: 'verify-email' })
    const mid = await refresh(t, tokens.body.refresh_token, 'strict-app', API_A)
    expect(mid.status).toBe(400)
    expect(mid.body.tessera_task).toBe('verify-email')
    const issuer = await refresh(t, tokens.body.refresh_token, 'strict-app')
    const midId = claims(issuer.body.id_token)
    expect(midId.tessera_task).toBe('verify-email')
    expect(midId.amr).toEqual(['pwd', 'otp', 'mfa'])

    const from = smtp.messages.length
    t.server.ctx.accounts.queueVerification(t.server.ctx, alice)
    expect((await fetch(await verificationLink(smtp, 'alice@example.test', from))).status).toBe(200)
    expect(sessionRow(t, sid)).toEqual({ state: 'active', task: null })
    const api = await refresh(t, issuer.body.refresh_token, 'strict-app', API_A)
    expect(api.status).toBe(200)
    expect(claims(api.body.access_token).acr).toBe('urn:tessera:acr:mfa')
    const events = await t.store.listEvents({ type: 'session_task_completed', limit: 5 })
    expect(events.map((e) => e.data?.task).sort()).toEqual(['setup-mfa', 'verify-email'])
  })

  it('ACC-06 an address verified before the enrolment: setup-mfa completes straight to active', async () => {
    const { t, smtp } = await start({ clients: [...defaultClients, strictClient] })
    const alice = await t.createUser('alice')
    const flow = await passwordStep(t, { clientId: 'strict-app', scope: 'openid offline_access' })
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    const sid = claims(tokens.body.id_token).sid as string
    t.server.ctx.accounts.queueVerification(t.server.ctx, alice)
    expect((await fetch(await verificationLink(smtp, 'alice@example.test'))).status).toBe(200)
    // The link does not complete another task.
    expect(sessionRow(t, sid)).toEqual({ state: 'pending', task: 'setup-mfa' })
    await enrolTotp(t, flow.jar)
    expect(sessionRow(t, sid)).toEqual({ state: 'active', task: null })
  })
})

describe('ACC-07 configuration of requireVerifiedEmail', () => {
  const client: ClientConfig = { id: 'a', redirectUris: ['https://a.example.test/cb'] }
  const base = { issuer: 'https://auth.example.test', secrets: [TEST_SECRET], clients: [client] }
  /** A value of the wrong type, as a JSON file can hold. */
  const bad = (v: unknown) => v as boolean

  it('ACC-07 bad values are configuration errors naming the setting; default false', () => {
    expect(resolveConfig(base).accounts.requireVerifiedEmail).toBe(false)
    expect(() =>
      resolveConfig({ ...base, accounts: { requireVerifiedEmail: bad('yes') } }),
    ).toThrow(ConfigError)
    try {
      resolveConfig({
        ...base,
        clients: [{ ...client, requireVerifiedEmail: bad(1) }],
      })
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).setting).toBe('clients[0].requireVerifiedEmail')
    }
    const on = resolveConfig({
      ...base,
      clients: [{ ...client, requireVerifiedEmail: false }],
      accounts: { requireVerifiedEmail: true },
    })
    expect(on.accounts.requireVerifiedEmail).toBe(true)
    expect(on.clients[0]?.requireVerifiedEmail).toBe(false)
  })

  it('ACC-07 the Admin API takes the client flag, refuses a bad value, and the flag applies to sign-ins', async () => {
    const { t } = await start({ clients: defaultClients })
    const bad = await adminApi(t, 'POST', '/clients', {
      id: 'admin-app',
      redirectUris: [WEB_REDIRECT],
      requireVerifiedEmail: 'yes',
    })
    expect(bad.status).toBe(400)
    expect(await t.store.getClient('admin-app')).toBeUndefined()
    const ok = await adminApi(t, 'POST', '/clients', {
      id: 'admin-app',
      redirectUris: [WEB_REDIRECT],
      audiences: [API_A],
      scopes: ['openid', 'offline_access', 'read'],
      requireVerifiedEmail: true,
    })
    expect(ok.status).toBe(201)
    expect((await t.store.getClient('admin-app'))?.requireVerifiedEmail).toBe(true)
    await t.createUser('alice')
    const flow = await passwordStep(t, { clientId: 'admin-app', scope: 'openid offline_access' })
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    expect(claims(tokens.body.id_token).tessera_task).toBe('verify-email')
  })
})
