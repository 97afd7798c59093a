/**
 * Policies and pending session tasks: a client or an API that requires MFA, `acr_values`,
 * `max_age`; a session without a second factor is `pending` with the task `setup-mfa`, which gets
 * no API access token at any grant until the user enrols on the hosted page.
 */
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { ADMIN_KEY, adminApi, startAdminServer } from '../admin/admin-helpers.js'
import { browserFetch, CookieJar, formFields } from '../helpers/oauth-flow.js'
import { postForm } from '../helpers/grants.js'
import {
  API_A,
  API_B,
  defaultApis,
  defaultClients,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'
import {
  claims,
  codeAt,
  codeFrom,
  enrolTotp,
  passwordStep,
  redeem,
  submitCode,
} from './mfa-helpers.js'

let t: TestServer
afterEach(async () => {
  await t.close()
})

const strictClient = {
  id: 'strict-app',
  redirectUris: [WEB_REDIRECT],
  audiences: [API_A],
  scopes: ['openid', 'offline_access', 'read', 'account:sessions'],
  requireMfa: true,
}

async function start(o: { apiMfa?: boolean } = {}): Promise<void> {
  t = await startAdminServer({
    clients: [...defaultClients, strictClient],
    apis: defaultApis.map((a) =>
      a.audience === API_B && o.apiMfa ? { ...a, requireMfa: true } : a,
    ),
  })
  await t.createUser()
}

function refresh(rt: string, clientId: string, resource?: string) {
  return postForm(t.url + '/oauth/token', {
    grant_type: 'refresh_token',
    refresh_token: rt,
    client_id: clientId,
    ...(resource ? { resource } : {}),
  })
}

function sessionRow(id: string): Record<string, unknown> {
  const d = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
  try {
    return d.prepare('select state, task, amr from sessions where id = ?').get(id) as Record<
      string,
      unknown
    >
  } finally {
    d.close()
  }
}

describe('MFA-13 pending session: setup-mfa', () => {
  it('MFA-13 a client that requires MFA: the session is pending, tessera_task everywhere, no API token at any grant; enrolment makes it active', async () => {
    await start()
    const flow = await passwordStep(t, {
      clientId: 'strict-app',
      scope: 'openid offline_access read account:sessions',
    })
    const code = codeFrom(flow.res)

    // An API token at the code exchange is refused before the code is spent.
    const early = await redeem(t, flow, code, { resource: API_A })
    expect(early.status).toBe(400)
    expect(early.body).toEqual({
      error: 'session_pending',
      error_description:
        'the session is pending the task setup-mfa: complete it before requesting tokens for an API',
      tessera_task: 'setup-mfa',
    })
    const tokens = await redeem(t, flow, code)
    expect(tokens.status).toBe(200)
    const id = claims(tokens.body.id_token)
    expect(id.tessera_task).toBe('setup-mfa')
    expect({ amr: id.amr, acr: id.acr }).toEqual({ amr: ['pwd'], acr: 'urn:tessera:acr:pwd' })
    expect(claims(tokens.body.access_token).aud).toBe(t.url)
    expect(sessionRow(id.sid)).toEqual({ state: 'pending', task: 'setup-mfa', amr: '["pwd"]' })

    // userinfo and the account API show the task.
    const auth = { authorization: `Bearer ${tokens.body.access_token}` }
    const ui = await fetch(t.url + '/userinfo', { headers: auth })
    expect(((await ui.json()) as Record<string, unknown>).tessera_task).toBe('setup-mfa')
    const list = await fetch(t.url + '/account/sessions', { headers: auth })
    const listed = ((await list.json()) as { sessions: Record<string, unknown>[] }).sessions
    expect(listed.map((s) => [s.state, s.task])).toEqual([['pending', 'setup-mfa']])

    // A refresh for an API is refused and changes nothing; one for the issuer rotates.
    const refused = await refresh(tokens.body.refresh_token, 'strict-app', API_A)
    expect(refused.status).toBe(400)
    expect(refused.body.error).toBe('session_pending')
    const issuer = await refresh(tokens.body.refresh_token, 'strict-app')
    expect(issuer.status).toBe(200)
    expect(claims(issuer.body.id_token).tessera_task).toBe('setup-mfa')

    // Enrolment in the same browser completes the task.
    await enrolTotp(
      t,
      flow.jar,
      `?client_id=strict-app&return_to=${encodeURIComponent('https://app.example.test/home')}`,
    )
    expect(sessionRow(id.sid)).toEqual({ state: 'active', task: null, amr: '["pwd","otp","mfa"]' })
    const api = await refresh(issuer.body.refresh_token, 'strict-app', API_A)
    expect(api.status).toBe(200)
    const at = claims(api.body.access_token)
    expect({ aud: at.aud, amr: at.amr, acr: at.acr }).toEqual({
      aud: API_A,
      amr: ['pwd', 'otp', 'mfa'],
      acr: 'urn:tessera:acr:mfa',
    })
    const after = claims(api.body.id_token)
    expect(after.tessera_task).toBeUndefined()
    expect(after.acr).toBe('urn:tessera:acr:mfa')
    const done = await t.store.listEvents({ type: 'session_task_completed', limit: 5 })
    expect(done.map((e) => e.sessionId)).toEqual([id.sid])
  })

  it('MFA-13 an API that requires MFA makes the sessions of grants covering it pending; other clients are not affected', async () => {
    await start({ apiMfa: true })
    // web-app's grant covers API_B (all its audiences): pending.
    const flow = await passwordStep(t)
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    expect(claims(tokens.body.id_token).tessera_task).toBe('setup-mfa')
    expect((await refresh(tokens.body.refresh_token, 'web-app', API_A)).body.error).toBe(
      'session_pending',
    )
    // native-app covers API_A only: active.
    const other = await passwordStep(t, {
      clientId: 'native-app',
      redirectUri: 'com.example.app:/callback',
      scope: 'openid offline_access read',
    })
    const ot = await redeem(t, other, codeFrom(other.res))
    expect(claims(ot.body.id_token).tessera_task).toBeUndefined()
    expect((await refresh(ot.body.refresh_token, 'native-app', API_A)).status).toBe(200)
  })

  it('MFA-13 a user who already has an authenticator is asked for a code instead, and the session is active', async () => {
    await start()
    const first = await passwordStep(t)
    const e = await enrolTotp(t, first.jar)
    t.clock.advance(600_000)
    const flow = await passwordStep(t, { clientId: 'strict-app' })
    const html = await flow.res.text()
    const res = await submitCode(t, flow.jar, html, codeAt(t, e.secret))
    const tokens = await redeem(t, flow, codeFrom(res), { resource: API_A })
    expect(tokens.status).toBe(200)
    expect(claims(tokens.body.access_token).acr).toBe('urn:tessera:acr:mfa')
  })
})

describe('STEP-02 acr_values and max_age at /authorize', () => {
  it('STEP-02 acr_values=urn:tessera:acr:mfa steps up a password-only sign-in of a user with an authenticator; auth_time moves', async () => {
    await start()
    // Browser A signs in with the password only (alice has no authenticator yet).
    const a = await passwordStep(t)
    const before = claims((await redeem(t, a, codeFrom(a.res))).body.id_token)
    // Alice enrols in browser B; browser A's sign-in still has no second factor.
    const b = await passwordStep(t)
    const e = await enrolTotp(t, b.jar)
    t.clock.advance(120_000)
    // prompt=none cannot show the code step: interaction_required, and nothing is issued.
    const none = await passwordStep(t, {
      jar: a.jar,
      prompt: 'none',
      extra: { acr_values: 'urn:tessera:acr:mfa' },
    })
    const noneAt = new URL(none.res.headers.get('location') ?? '')
    expect(noneAt.origin + noneAt.pathname).toBe(WEB_REDIRECT)
    expect(noneAt.searchParams.get('error')).toBe('interaction_required')
    expect(noneAt.searchParams.get('code')).toBeNull()

    const step = await passwordStep(t, { jar: a.jar, extra: { acr_values: 'urn:tessera:acr:mfa' } })
    expect(step.res.status).toBe(303)
    const loc = new URL(step.res.headers.get('location') ?? '')
    expect(loc.pathname).toBe('/login/otp')
    const page = await browserFetch(a.jar, loc.toString())
    const html = await page.text()
    expect(page.status).toBe(200)
    expect(formFields(html).password).toBeUndefined()
    const res = await submitCode(t, a.jar, html, codeAt(t, e.secret))
    const id = claims((await redeem(t, step, codeFrom(res))).body.id_token)
    expect({ amr: id.amr, acr: id.acr }).toEqual({
      amr: ['pwd', 'otp', 'mfa'],
      acr: 'urn:tessera:acr:mfa',
    })
    expect(id.auth_time).toBe(Math.floor(t.clock.now() / 1000))
    expect(id.auth_time).toBeGreaterThan(before.auth_time)
    // The code step of one browser's sign-in cannot be finished from another browser.
    const other = new CookieJar()
    const stolen = await browserFetch(other, loc.toString())
    expect(stolen.status).toBe(400)
  })

  it('STEP-02 max_age re-authenticates a sign-in older than it (auth_time in the ID token moves), and not a younger one', async () => {
    await start()
    const a = await passwordStep(t)
    const first = claims((await redeem(t, a, codeFrom(a.res))).body.id_token)
    t.clock.advance(120_000)
    const young = await passwordStep(t, { jar: a.jar, maxAge: 600 })
    expect(young.res.status).toBe(303)
    const y = claims((await redeem(t, young, codeFrom(young.res))).body.id_token)
    expect(y.auth_time).toBe(first.auth_time)
    const old = await passwordStep(t, { jar: a.jar, maxAge: 60 })
    // passwordStep met the sign-in form and signed in again.
    const o = claims((await redeem(t, old, codeFrom(old.res))).body.id_token)
    expect(o.auth_time).toBe(first.auth_time + 120)
    expect(o.acr).toBe('urn:tessera:acr:pwd')
  })

  it('STEP-02 discovery advertises acr_values_supported and the claims', async () => {
    await start()
    const d = (await (await fetch(t.url + '/.well-known/openid-configuration')).json()) as Record<
      string,
      string[]
    >
    expect(d.acr_values_supported).toEqual(['urn:tessera:acr:pwd', 'urn:tessera:acr:mfa'])
    expect(d.claims_supported).toEqual(
      expect.arrayContaining(['acr', 'amr', 'auth_time', 'tessera_task']),
    )
  })
})

describe('MFA-14 admin reset', () => {
  it('MFA-14 DELETE /users/:id/mfa removes the authenticator and the recovery codes with an mfa_reset event; the next strict sign-in is pending again', async () => {
    await start()
    const user = (await t.store.getUserByUsername('alice'))!
    const first = await passwordStep(t)
    await enrolTotp(t, first.jar)
    const shown = await adminApi(t, 'GET', `/users/${user.id}/mfa`)
    expect(shown.status).toBe(200)
    expect(shown.body).toMatchObject({
      userId: user.id,
      totp: { confirmed: true },
      recoveryCodesLeft: 10,
    })
    expect(JSON.stringify(shown.body)).not.toMatch(/secret/i)

    expect(
      (await adminApi(t, 'DELETE', `/users/${user.id}/mfa`, undefined, { key: null })).status,
    ).toBe(401)
    expect((await adminApi(t, 'DELETE', `/users/${user.id}/mfa`, { extra: 1 })).status).toBe(400)
    expect(await t.store.getTotp(user.id)).toBeDefined()

    const reset = await adminApi(t, 'DELETE', `/users/${user.id}/mfa`)
    expect(reset.status).toBe(200)
    expect(reset.body).toEqual({ userId: user.id, totp: null, recoveryCodesLeft: 0 })
    const events = await t.store.listEvents({ type: 'mfa_reset', limit: 5 })
    expect(events).toHaveLength(1)
    expect(events[0]?.data.actor).toMatchObject({ kind: 'api_key', via: 'api' })
    expect((await adminApi(t, 'DELETE', `/users/${user.id}/mfa`)).status).toBe(404)

    const flow = await passwordStep(t, { clientId: 'strict-app' })
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    expect(claims(tokens.body.id_token).tessera_task).toBe('setup-mfa')
  })

  it('MFA-14 requireMfa is set through the Admin API like the configuration file, and checked', async () => {
    await start()
    const created = await adminApi(t, 'POST', '/apis', {
      audience: 'https://vault.example.test',
      requireMfa: true,
    })
    expect(created.status).toBe(201)
    expect(created.body.requireMfa).toBe(true)
    const bad = await adminApi(t, 'POST', '/clients', {
      id: 'x-app',
      redirectUris: [WEB_REDIRECT],
      requireMfa: 'yes',
    })
    expect(bad.status).toBe(400)
    expect(bad.body.error_description).toBe('requireMfa: must be true or false')
  })
})

describe('MFA-15 the hosted enrolment page', () => {
  it('MFA-15 needs a sign-in, a CSRF token and a valid first code; its CSP is unchanged (inline SVG QR code); the link back is on a registered origin only', async () => {
    await start()
    const anon = await fetch(t.url + '/account/mfa')
    expect(anon.status).toBe(401)
    const flow = await passwordStep(t)
    const page = await browserFetch(
      flow.jar,
      `${t.url}/account/mfa?client_id=web-app&return_to=${encodeURIComponent('https://evil.example.test/')}`,
    )
    const html = await page.text()
    expect(page.headers.get('content-security-policy')).toMatch(
      /^default-src 'none'; style-src 'sha256-[^']+'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'$/,
    )
    expect(html).toMatch(/<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*width="200"/)
    expect(html).not.toMatch(/<img|<script|data:/)
    const fields = formFields(html)
    const user = (await t.store.getUserByUsername('alice'))!
    // Wrong CSRF token, wrong code: nothing confirmed.
    expect(
      (
        await browserFetch(flow.jar, t.url + '/account/mfa', {
          form: { ...fields, csrf: 'x', code: '123456' },
        })
      ).status,
    ).toBe(403)
    expect(
      (await browserFetch(flow.jar, t.url + '/account/mfa', { form: { ...fields, code: 'abc' } }))
        .status,
    ).toBe(400)
    expect((await t.store.getTotp(user.id))?.confirmedAt).toBeNull()
    // An unknown action is a clear 400 page, not a 5xx.
    expect(
      (
        await browserFetch(flow.jar, t.url + '/account/mfa', {
          form: { ...fields, action: 'nope' },
        })
      ).status,
    ).toBe(400)
    const e = await enrolTotp(
      t,
      flow.jar,
      `?client_id=web-app&return_to=${encodeURIComponent('https://evil.example.test/')}`,
    )
    expect(e.html).not.toContain('evil.example.test')
    const events = await t.store.listEvents({ type: 'mfa_enrolled', limit: 5 })
    expect(events).toHaveLength(1)
    expect(JSON.stringify(events)).not.toContain(e.recoveryCodes[0] ?? 'x')
  })

  it('MFA-15 enrolment needs a recent sign-in (account.maxAuthAgeSeconds)', async () => {
    await start()
    const flow = await passwordStep(t)
    t.clock.advance(301_000)
    const page = await browserFetch(flow.jar, `${t.url}/account/mfa`)
    expect(page.status).toBe(401)
    expect(await page.text()).toContain('needs a recent sign-in')
  })
})

describe('MFA-14 admin reset in the console', () => {
  it('MFA-14 the user page shows two-step verification and resets it with a CSRF-checked form, recording the console actor', async () => {
    await start()
    const user = (await t.store.getUserByUsername('alice'))!
    const first = await passwordStep(t)
    await enrolTotp(t, first.jar)
    const jar = new CookieJar()
    const signInPage = await browserFetch(jar, t.url + '/admin/sign-in')
    const signIn = await browserFetch(jar, t.url + '/admin/sign-in', {
      form: { ...formFields(await signInPage.text()), key: ADMIN_KEY },
    })
    expect(signIn.status).toBe(303)
    const page = await browserFetch(jar, `${t.url}/admin/users/${user.id}`)
    const html = await page.text()
    expect(html).toContain('on (10 recovery codes left)')
    expect(html).toContain(`/admin/users/${user.id}/reset-mfa`)
    const csrf = formFields(html).csrf ?? ''
    const forged = await browserFetch(jar, `${t.url}/admin/users/${user.id}/reset-mfa`, {
      form: { csrf: 'x' },
    })
    expect(forged.status).toBe(403)
    expect(await t.store.getTotp(user.id)).toBeDefined()
    const reset = await browserFetch(jar, `${t.url}/admin/users/${user.id}/reset-mfa`, {
      form: { csrf },
    })
    expect(reset.status).toBe(303)
    expect(await t.store.getTotp(user.id)).toBeUndefined()
    const after = await (await browserFetch(jar, reset.headers.get('location') ?? '')).text()
    expect(after).toContain('Two-step verification is reset')
    const events = await t.store.listEvents({ type: 'mfa_reset', limit: 5 })
    expect(events[0]?.data.actor).toMatchObject({ kind: 'api_key', via: 'console' })
  })
})
