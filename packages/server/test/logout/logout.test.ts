import { decodeJwt, generateKeyPair, SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { SessionRecord, UserRecord } from '../../src/store/types.js'
import { postForm } from '../helpers/grants.js'
import {
  authorizationParams,
  authorize,
  type AuthorizeResult,
  browserFetch,
  CookieJar,
  formFields,
  redirectParams,
  rowCounts,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

const SIGNED_OUT = 'https://app.example.test/signed-out'

let t: TestServer
let alice: UserRecord
let bob: UserRecord
beforeAll(async () => {
  t = await startTestServer()
  alice = await t.createUser()
  bob = await t.createUser('bob', 'bob password 1234')
})
afterAll(async () => {
  await t.close()
})

/** Redeems a code at the token endpoint: the client session and its tokens. */
async function redeem(a: AuthorizeResult): Promise<{ session: SessionRecord; tokens: Tokens }> {
  const r = await postForm(t.url + '/oauth/token', {
    grant_type: 'authorization_code',
    code: a.code,
    code_verifier: a.codeVerifier,
    redirect_uri: a.redirectUri,
    client_id: a.clientId,
  })
  expect(r.status).toBe(200)
  const tokens = r.body as Tokens
  const sid = decodeJwt(tokens.id_token).sid as string
  return { session: (await t.store.getSession(sid))!, tokens }
}

interface Tokens {
  access_token: string
  refresh_token: string
  id_token: string
}

/** A browser signed in as `user`, with client sessions (and tokens) at web-app and other-app. */
async function signedIn(user = alice, password = 'correct horse battery') {
  const a = await authorize(t, { username: user.username, password })
  const web = await redeem(a)
  const b = await authorize(t, {
    jar: a.cookies,
    clientId: 'other-app',
    redirectUri: 'https://other.example.test/callback',
  })
  const other = await redeem(b)
  const browserSessionId = sha256b64u(a.cookies.get('tessera_sso')!)
  return {
    jar: a.cookies,
    web: web.session,
    other: other.session,
    tokens: { web: web.tokens, other: other.tokens },
    browserSessionId,
    hint: web.tokens.id_token,
  }
}

async function expectAllEnded(s: Awaited<ReturnType<typeof signedIn>>): Promise<void> {
  expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBe(t.clock.now())
  for (const c of [s.web, s.other]) {
    expect(await t.store.getSession(c.id)).toMatchObject({
      state: 'ended',
      reason: 'sign_out',
      endedAt: t.clock.now(),
    })
  }
}

async function expectNothingEnded(s: Awaited<ReturnType<typeof signedIn>>): Promise<void> {
  expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBeNull()
  for (const c of [s.web, s.other]) expect((await t.store.getSession(c.id))?.state).toBe('active')
}

const logoutUrl = (q: Record<string, string>) => `${t.url}/logout?${new URLSearchParams(q)}`

/** prompt=none with the jar: true when the SSO session answered with a code. */
async function ssoAnswers(jar: CookieJar): Promise<boolean> {
  const p = redirectParams(
    await startAuthorize(t, authorizationParams({ prompt: 'none' }).params, jar),
  )
  return p.code !== undefined
}

describe('RP-initiated logout with a valid id_token_hint', () => {
  it('ends the SSO session and every client session of it, clears the cookie, 303s with state', async () => {
    const s = await signedIn()
    const stolenCookie = s.jar.get('tessera_sso')!
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT, state: 'bye' }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?state=bye`)
    expect(res.headers.getSetCookie()).toEqual([
      'tessera_sso=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0',
    ])
    expect(res.headers.get('cache-control')).toBe('no-store')
    await expectAllEnded(s)
    const events = await t.store.listEvents({ type: 'sign_out', userId: alice.id, limit: 3 })
    expect(events.map((e) => e.sessionId).sort()).toEqual([null, s.web.id, s.other.id].sort())
    expect(events.find((e) => e.sessionId === s.other.id)).toMatchObject({
      clientId: 'other-app',
      ip: '127.0.0.1',
      data: { initiatedBy: 'web-app' },
    })
    expect(events.find((e) => e.sessionId === null)).toMatchObject({
      clientId: 'web-app',
      data: { browserSession: true, sessionsEnded: 2 },
    })
    // The cookie is gone, and replaying it does not bring the session back.
    expect(s.jar.get('tessera_sso')).toBeUndefined()
    expect(await ssoAnswers(s.jar)).toBe(false)
    const replay = new CookieJar()
    replay.set('tessera_sso', stolenCookie)
    expect(await ssoAnswers(replay)).toBe(false)
  })

  it('sessions of an earlier sign-on by the same user in this browser end too (re-authentication relinks them)', async () => {
    const s = await signedIn()
    // prompt=login re-authenticates: a new browser session; the earlier client sessions follow it.
    const again = await authorize(t, { jar: s.jar, prompt: 'login' })
    const newer = await redeem(again)
    const newBrowserSession = sha256b64u(s.jar.get('tessera_sso')!)
    expect(newBrowserSession).not.toBe(s.browserSessionId)
    expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).not.toBeNull()
    for (const c of [s.web, s.other, newer.session]) {
      expect((await t.store.getSession(c.id))?.browserSessionId).toBe(newBrowserSession)
    }
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: newer.tokens.id_token, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(res.status).toBe(303)
    for (const c of [s.web, s.other, newer.session]) {
      expect(await t.store.getSession(c.id)).toMatchObject({ state: 'ended', reason: 'sign_out' })
    }
  })

  it("another user's sign-in in the same browser does not take over the earlier user's sessions", async () => {
    const s = await signedIn()
    const asBob = await authorize(t, {
      jar: s.jar,
      prompt: 'login',
      username: bob.username,
      password: 'bob password 1234',
    })
    const bobs = await redeem(asBob)
    expect((await t.store.getSession(s.web.id))?.browserSessionId).toBe(s.browserSessionId)
    await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: bobs.tokens.id_token, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect((await t.store.getSession(bobs.session.id))?.state).toBe('ended')
    expect((await t.store.getSession(s.web.id))?.state).toBe('active')
  })

  it('the tokens of the ended sessions stop working (refresh invalid_grant, userinfo 401)', async () => {
    const s = await signedIn()
    const res = await browserFetch(s.jar, logoutUrl({ id_token_hint: s.hint }))
    expect(res.status).toBe(200)
    for (const [clientId, tokens] of [
      ['web-app', s.tokens.web],
      ['other-app', s.tokens.other],
    ] as const) {
      const r = await postForm(t.url + '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: tokens.refresh_token,
        client_id: clientId,
      })
      expect({ status: r.status, error: r.body.error }).toEqual({
        status: 400,
        error: 'invalid_grant',
      })
      const ui = await fetch(t.url + '/userinfo', {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      })
      expect(ui.status).toBe(401)
    }
  })

  it('an expired hint is accepted', async () => {
    const s = await signedIn()
    t.clock.advance(2 * 3600_000)
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(SIGNED_OUT)
    await expectAllEnded(s)
  })

  it('without post_logout_redirect_uri the signed-out page is shown', async () => {
    const s = await signedIn()
    const res = await browserFetch(s.jar, logoutUrl({ id_token_hint: s.hint }))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('You are signed out.')
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    await expectAllEnded(s)
  })

  it('a POST form from the client works the same (RP-Initiated Logout 1.0 section 2)', async () => {
    const s = await signedIn()
    const res = await browserFetch(s.jar, t.url + '/logout', {
      form: {
        id_token_hint: s.hint,
        client_id: 'web-app',
        post_logout_redirect_uri: SIGNED_OUT,
        state: 'p',
      },
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?state=p`)
    await expectAllEnded(s)
  })

  it('a hint for another user than the signed-in one asks for confirmation instead', async () => {
    const s = await signedIn()
    const other = await signedIn(bob, 'bob password 1234')
    const res = await browserFetch(s.jar, logoutUrl({ id_token_hint: other.hint }))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('<h1>Sign out?</h1>')
    await expectNothingEnded(s)
    await expectNothingEnded(other)
  })
})

describe('SES-16 a genuine id_token_hint without the matching sign-in cookie is no sign-out switch', () => {
  /** The confirmation page a cookie-less request with the hint gets; asserts nothing changed. */
  async function confirmationFor(
    s: Awaited<ReturnType<typeof signedIn>>,
    jar: CookieJar,
    question = 'Sign out of web-app?',
  ) {
    const before = rowCounts(t)
    const res = await browserFetch(
      jar,
      logoutUrl({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT, state: 'q' }),
    )
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain(`<h1>Sign out?</h1><p>${question}</p>`)
    expect(html).toContain(
      '<button type="submit" name="confirm" value="no">Stay signed in</button>',
    )
    expect(res.headers.getSetCookie().some((c) => c.startsWith('tessera_sso='))).toBe(false)
    expect(rowCounts(t)).toEqual(before)
    await expectNothingEnded(s)
    const fields = formFields(html)
    expect(fields).toEqual({
      csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      id_token_hint: s.hint,
      client_id: 'web-app',
      post_logout_redirect_uri: SIGNED_OUT,
      state: 'q',
    })
    return fields
  }

  it('SES-16 a hint (even expired) without any cookie asks for confirmation and ends nothing, by GET or POST', async () => {
    const s = await signedIn()
    t.clock.advance(2 * 3600_000)
    await confirmationFor(s, new CookieJar())
    const posted = await fetch(t.url + '/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT }),
      redirect: 'manual',
    })
    expect(posted.status).toBe(200)
    expect(await posted.text()).toContain('<h1>Sign out?</h1>')
    await expectNothingEnded(s)
    expect(await ssoAnswers(s.jar)).toBe(true)
  })

  it('SES-16 declining ends nothing and returns to the client', async () => {
    const s = await signedIn()
    const jar = new CookieJar()
    const fields = await confirmationFor(s, jar)
    const before = rowCounts(t)
    const res = await browserFetch(jar, t.url + '/logout', { form: { ...fields, confirm: 'no' } })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?state=q`)
    expect(rowCounts(t)).toEqual(before)
    await expectNothingEnded(s)
    expect(await ssoAnswers(s.jar)).toBe(true)
  })

  it("SES-16 confirming ends the hint's session only: the sign-in behind it and its other sessions stay", async () => {
    const s = await signedIn()
    const jar = new CookieJar()
    const fields = await confirmationFor(s, jar)
    const res = await browserFetch(jar, t.url + '/logout', { form: { ...fields, confirm: 'yes' } })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?state=q`)
    expect(await t.store.getSession(s.web.id)).toMatchObject({
      state: 'ended',
      reason: 'sign_out',
      endedAt: t.clock.now(),
    })
    expect((await t.store.getSession(s.other.id))?.state).toBe('active')
    expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBeNull()
    expect(await ssoAnswers(s.jar)).toBe(true)
    const [event] = await t.store.listEvents({ type: 'sign_out', sessionId: s.web.id })
    expect(event).toMatchObject({ clientId: 'web-app', data: { initiatedBy: 'web-app' } })
  })

  it("SES-16 a cookie of another sign-in of the same user is not the hint's: confirmation asked; confirming ends this browser's sign-in and the hint's session", async () => {
    const s = await signedIn()
    const elsewhere = await signedIn()
    // The question names this browser's sign-in, which the confirmation ends too.
    const fields = await confirmationFor(
      s,
      elsewhere.jar,
      'Sign out of web-app and every application that uses this sign-in?',
    )
    const res = await browserFetch(elsewhere.jar, t.url + '/logout', { form: fields })
    expect(res.status).toBe(303)
    await expectAllEnded(elsewhere)
    expect((await t.store.getSession(s.web.id))?.state).toBe('ended')
    expect((await t.store.getSession(s.other.id))?.state).toBe('active')
    expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBeNull()
  })

  it("SES-16 the browser's own sign-in still ends at once with its hint, without a prompt", async () => {
    const s = await signedIn()
    t.clock.advance(2 * 3600_000)
    const res = await browserFetch(s.jar, logoutUrl({ id_token_hint: s.hint }))
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('You are signed out.')
    await expectAllEnded(s)
  })

  it('SES-16 an app that revoked its refresh token first (as the SDK and the playground do) still signs its browser out without a prompt', async () => {
    const s = await signedIn()
    const revoked = await postForm(t.url + '/oauth/revoke', {
      token: s.tokens.web.refresh_token,
      client_id: 'web-app',
    })
    expect(revoked.status).toBe(200)
    expect((await t.store.getSession(s.web.id))?.state).toBe('revoked')
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(SIGNED_OUT)
    expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBe(t.clock.now())
    expect((await t.store.getSession(s.other.id))?.state).toBe('ended')
  })

  it('SES-16 without a cookie, a hint whose session has ended has nothing to confirm: signed-out page, nothing changes', async () => {
    const s = await signedIn()
    expect(await t.store.endSession(s.web.id, 'revoked', 'admin', t.clock.now())).toBe(true)
    const before = rowCounts(t)
    const res = await fetch(logoutUrl({ id_token_hint: s.hint }), { redirect: 'manual' })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('You are signed out.')
    expect(rowCounts(t)).toEqual(before)
    expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBeNull()
    expect((await t.store.getSession(s.other.id))?.state).toBe('active')
  })

  it('SES-16 a confirm value other than yes or no is refused with a page, nothing ended', async () => {
    const s = await signedIn()
    const jar = new CookieJar()
    const fields = await confirmationFor(s, jar)
    const res = await browserFetch(jar, t.url + '/logout', {
      form: { ...fields, confirm: 'maybe' },
    })
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('confirm must be yes or no')
    await expectNothingEnded(s)
  })
})

describe('form-action on the logout pages', () => {
  const directive = (res: Response) =>
    /(?:^|; )form-action ([^;]*)(?:;|$)/.exec(res.headers.get('content-security-policy') ?? '')?.[1]

  it("the confirmation form may post to this server only, and its answer go to the validated post_logout_redirect_uri's origin", async () => {
    const s = await signedIn()
    const withRedirect = await browserFetch(
      s.jar,
      logoutUrl({ client_id: 'web-app', post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(withRedirect.status).toBe(200)
    expect(directive(withRedirect)).toBe(`'self' https://app.example.test`)
    const without = await browserFetch(s.jar, logoutUrl({}))
    expect(without.status).toBe(200)
    expect(await without.text()).toContain('<h1>Sign out?</h1>')
    expect(directive(without)).toBe(`'self'`)
    await expectNothingEnded(s)
  })

  it('the signed-out page, which has no form, allows none', async () => {
    const s = await signedIn()
    const res = await browserFetch(s.jar, logoutUrl({ id_token_hint: s.hint }))
    expect(await res.text()).toContain('You are signed out.')
    expect(directive(res)).toBe(`'none'`)
  })
})

describe('SES-13 post_logout_redirect_uri must be registered exactly: otherwise no redirect', () => {
  const rows: [string, Record<string, string>][] = [
    ['unregistered URI', { post_logout_redirect_uri: 'https://evil.example/out' }],
    ['query added', { post_logout_redirect_uri: SIGNED_OUT + '?next=https://evil.example' }],
    ['trailing slash', { post_logout_redirect_uri: SIGNED_OUT + '/' }],
    ['path case', { post_logout_redirect_uri: 'https://app.example.test/Signed-out' }],
    ['fragment added', { post_logout_redirect_uri: SIGNED_OUT + '#x' }],
    [
      'registered for another client',
      { post_logout_redirect_uri: SIGNED_OUT, client_id: 'other-app', hint: '' },
    ],
    ['no client to check it against', { post_logout_redirect_uri: SIGNED_OUT, hint: '' }],
    [
      'a redirect URI (not a post-logout one)',
      { post_logout_redirect_uri: 'https://app.example.test/callback' },
    ],
  ]
  it.each(rows)('%s: error page, nothing ended', async (_name, q) => {
    const s = await signedIn()
    const { hint, ...rest } = q
    const params: Record<string, string> = { ...rest, state: 'x' }
    if (hint === undefined) params.id_token_hint = s.hint
    const before = rowCounts(t)
    const res = await browserFetch(s.jar, logoutUrl(params))
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(await res.text()).toContain('invalid_request')
    expect(res.headers.getSetCookie()).toEqual([])
    expect(rowCounts(t)).toEqual(before)
    await expectNothingEnded(s)
  })
})

describe('id_token_hint that is not our ID token: error page, nothing ended', () => {
  async function ourKeySigned(
    claims: Record<string, unknown>,
    header: Record<string, unknown>,
  ): Promise<string> {
    const k = t.server.ctx.keys.signingKey()
    return new SignJWT(claims)
      .setProtectedHeader({ alg: k.record.alg, kid: k.record.kid, ...header })
      .sign(k.privateKey)
  }

  const rows: [string, (s: Awaited<ReturnType<typeof signedIn>>) => Promise<string>][] = [
    ['JWT-11 an access token (typ at+jwt)', (s) => Promise.resolve(s.tokens.web.access_token)],
    ['typ missing', () => ourKeySigned({ iss: t.url, sub: alice.id, aud: 'web-app' }, {})],
    [
      'typ logout+jwt',
      () => ourKeySigned({ iss: t.url, sub: alice.id, aud: 'web-app' }, { typ: 'logout+jwt' }),
    ],
    [
      'another issuer',
      () =>
        ourKeySigned(
          { iss: 'https://evil.example', sub: alice.id, aud: 'web-app' },
          { typ: 'JWT' },
        ),
    ],
    ['no sub', () => ourKeySigned({ iss: t.url, aud: 'web-app' }, { typ: 'JWT' })],
    [
      'signed by a foreign key under our kid',
      async () => {
        const { privateKey } = await generateKeyPair('ES256')
        return new SignJWT({ iss: t.url, sub: alice.id, aud: 'web-app' })
          .setProtectedHeader({
            alg: 'ES256',
            typ: 'JWT',
            kid: t.server.ctx.keys.signingKey().record.kid,
          })
          .sign(privateKey)
      },
    ],
    [
      'JWT-01 alg none',
      () => {
        const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
        return Promise.resolve(
          `${enc({ alg: 'none', typ: 'JWT', kid: t.server.ctx.keys.signingKey().record.kid })}.${enc({ iss: t.url, sub: alice.id, aud: 'web-app' })}.`,
        )
      },
    ],
    ['signature cut', (s) => Promise.resolve(s.hint.slice(0, -10))],
    [
      'unknown kid',
      () =>
        ourKeySigned(
          { iss: t.url, sub: alice.id, aud: 'web-app' },
          { typ: 'JWT', kid: '../../dev/null' },
        ),
    ],
    ['not a JWT', () => Promise.resolve('garbage')],
  ]
  it.each(rows)('%s', async (_name, make) => {
    const s = await signedIn()
    const token = await make(s)
    const before = rowCounts(t)
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: token, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(await res.text()).toContain('id_token_hint is not a valid ID token of this server')
    expect(rowCounts(t)).toEqual(before)
    await expectNothingEnded(s)
  })

  it('a hint issued to another client than client_id', async () => {
    const s = await signedIn()
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: s.hint, client_id: 'other-app' }),
    )
    expect(res.status).toBe(400)
    expect(await res.text()).toContain('id_token_hint was not issued to client_id')
    await expectNothingEnded(s)
  })
})

describe('logout without a valid hint: CSRF-protected confirmation', () => {
  it('GET shows a confirmation form and ends nothing; confirming ends everything and redirects', async () => {
    const s = await signedIn()
    const before = rowCounts(t)
    const res = await browserFetch(
      s.jar,
      logoutUrl({ client_id: 'web-app', post_logout_redirect_uri: SIGNED_OUT, state: 'c' }),
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('x-frame-options')).toBe('DENY')
    const html = await res.text()
    expect(html).toContain(`<form method="post" action="${t.url}/logout">`)
    expect(rowCounts(t)).toEqual(before)
    await expectNothingEnded(s)
    const fields = formFields(html)
    expect(fields).toEqual({
      csrf: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      client_id: 'web-app',
      post_logout_redirect_uri: SIGNED_OUT,
      state: 'c',
    })
    const done = await browserFetch(s.jar, t.url + '/logout', { form: fields })
    expect(done.status).toBe(303)
    expect(done.headers.get('location')).toBe(`${SIGNED_OUT}?state=c`)
    await expectAllEnded(s)
  })

  it('logout CSRF: a confirmation posted with a forged token or from another browser ends nothing', async () => {
    const s = await signedIn()
    const page = await browserFetch(s.jar, logoutUrl({}))
    const fields = formFields(await page.text())
    const attacker = await signedIn(bob, 'bob password 1234')
    const attackerFields = formFields(
      await (await browserFetch(attacker.jar, logoutUrl({}))).text(),
    )
    expect(attackerFields.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const attempts: [string, Record<string, string>][] = [
      ['forged token', { ...fields, csrf: 'A'.repeat(43) }],
      ["the attacker's own token", attackerFields],
      ['empty token', { ...fields, csrf: '' }],
    ]
    for (const [, form] of attempts) {
      const before = rowCounts(t)
      const res = await browserFetch(s.jar, t.url + '/logout', { form })
      if (form.csrf === '') {
        // An empty token is no token: the confirmation is shown again.
        expect(res.status).toBe(200)
        expect(await res.text()).toContain('<h1>Sign out?</h1>')
      } else {
        expect(res.status).toBe(403)
        expect(await res.text()).toContain('This sign-out form has expired.')
      }
      expect(res.headers.getSetCookie().some((c) => c.startsWith('tessera_sso='))).toBe(false)
      expect(rowCounts(t)).toEqual(before)
      await expectNothingEnded(s)
    }
    // Without the browser's CSRF cookie, a right token is refused too.
    const res = await fetch(t.url + '/logout', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        cookie: `tessera_sso=${s.jar.get('tessera_sso')}`,
      },
      body: new URLSearchParams(fields),
      redirect: 'manual',
    })
    expect(res.status).toBe(403)
    await expectNothingEnded(s)
  })

  it('a confirmation token in a GET link is refused (confirmation is POST only)', async () => {
    const s = await signedIn()
    const fields = formFields(await (await browserFetch(s.jar, logoutUrl({}))).text())
    const res = await browserFetch(s.jar, logoutUrl(fields))
    expect(res.status).toBe(403)
    await expectNothingEnded(s)
  })

  it('a browser with no session is shown the signed-out page or sent to a valid post_logout_redirect_uri', async () => {
    const jar = new CookieJar()
    const page = await browserFetch(jar, logoutUrl({}))
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('You are signed out.')
    const res = await browserFetch(
      jar,
      logoutUrl({ client_id: 'web-app', post_logout_redirect_uri: SIGNED_OUT, state: 'z' }),
    )
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`${SIGNED_OUT}?state=z`)
  })

  it('duplicate parameters and JSON bodies are refused with a page, nothing ended', async () => {
    const s = await signedIn()
    const dup = await browserFetch(s.jar, `${t.url}/logout?state=a&state=b`)
    expect(dup.status).toBe(400)
    expect(await dup.text()).toContain('parameter state is included more than once')
    const json = await fetch(t.url + '/logout', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: s.jar.header()! },
      body: JSON.stringify({ id_token_hint: s.hint }),
      redirect: 'manual',
    })
    expect(json.status).toBe(400)
    expect(json.headers.get('content-type')).toBe('text/html; charset=utf-8')
    await expectNothingEnded(s)
  })
})

describe('a code issued before logout', () => {
  it('cannot start a session after the browser signed out: invalid_grant, code consumed, nothing created', async () => {
    const s = await signedIn()
    // A second code from the same browser, not exchanged yet (a tab still on its way back).
    const pending = await authorize(t, { jar: s.jar })
    const res = await browserFetch(
      s.jar,
      logoutUrl({ id_token_hint: s.hint, post_logout_redirect_uri: SIGNED_OUT }),
    )
    expect(res.status).toBe(303)
    const before = rowCounts(t)
    const r = await postForm(t.url + '/oauth/token', {
      grant_type: 'authorization_code',
      code: pending.code,
      code_verifier: pending.codeVerifier,
      redirect_uri: pending.redirectUri,
      client_id: pending.clientId,
    })
    expect(r.status).toBe(400)
    expect(r.body).toStrictEqual({
      error: 'invalid_grant',
      error_description: 'the sign-in this authorization code came from has ended',
    })
    expect(rowCounts(t).sessions).toBe(before.sessions)
    expect(await t.store.getCode(sha256b64u(pending.code))).toMatchObject({ sessionId: null })
    expect((await t.store.getCode(sha256b64u(pending.code)))?.consumedAt).not.toBeNull()
  })
})
