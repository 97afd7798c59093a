import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import {
  authorizationParams,
  authorize,
  CookieJar,
  isLoginRedirect,
  openLogin,
  redirectParams,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
  await t.createUser()
  await t.createUser('bob', 'bob password 1234')
})
afterAll(async () => {
  await t.close()
})

let sso: CookieJar
let signedInAt: number
beforeEach(async () => {
  signedInAt = t.clock.now()
  sso = (await authorize(t)).cookies
})

const browserId = (jar: CookieJar): string => sha256b64u(jar.get('tessera_sso')!)
const codeOf = async (code: string) => (await t.store.getCode(sha256b64u(code)))!

describe('prompt=none', () => {
  it('with a live SSO session returns a code without showing a page', async () => {
    t.clock.advance(5_000)
    const a = await authorize(t, { jar: sso, prompt: 'none' })
    expect(a.signedIn).toBe(false)
    const rec = await codeOf(a.code)
    expect(rec.authTime).toBe(signedInAt)
    expect(rec.browserSessionId).toBe(browserId(sso))
  })

  it('without a session redirects login_required with state and iss', async () => {
    const { params } = authorizationParams({ prompt: 'none', state: 's' })
    const res = await startAuthorize(t, params, new CookieJar())
    expect(res.status).toBe(303)
    expect(redirectParams(res)).toEqual({
      error: 'login_required',
      error_description: 'the user is not signed in, or must sign in again',
      state: 's',
      iss: t.url,
    })
  })

  it('with a session older than max_age redirects login_required', async () => {
    t.clock.advance(61_000)
    const { params } = authorizationParams({ prompt: 'none', maxAge: 60 })
    const res = await startAuthorize(t, params, sso)
    expect(redirectParams(res).error).toBe('login_required')
  })
})

describe('prompt=login and select_account force the sign-in form', () => {
  it('prompt=login shows the form despite SSO; signing in starts a new session with a new auth_time', async () => {
    t.clock.advance(10_000)
    const { params } = authorizationParams({ prompt: 'login' })
    expect(isLoginRedirect(t, await startAuthorize(t, params, sso))).toBe(true)
    const old = browserId(sso)
    const a = await authorize(t, { jar: sso, prompt: 'login' })
    expect(a.signedIn).toBe(true)
    const rec = await codeOf(a.code)
    expect(rec.authTime).toBe(signedInAt + 10_000)
    expect(rec.browserSessionId).toBe(browserId(sso))
    expect(browserId(sso)).not.toBe(old)
    expect((await t.store.getBrowserSession(old))?.endedAt).toBe(t.clock.now())
  })

  it('prompt=select_account shows the form so another account can be chosen', async () => {
    const a = await authorize(t, {
      jar: sso,
      prompt: 'select_account',
      username: 'bob',
      password: 'bob password 1234',
    })
    expect(a.signedIn).toBe(true)
    const bob = await t.store.getUserByUsername('bob')
    expect((await codeOf(a.code)).userId).toBe(bob!.id)
  })

  it('prompt=consent is satisfied by registration: SSO answers without a page', async () => {
    const a = await authorize(t, { jar: sso, prompt: 'consent' })
    expect(a.signedIn).toBe(false)
  })
})

describe('max_age', () => {
  it('a session younger than max_age answers; exactly max_age still answers (OIDC: "greater than")', async () => {
    t.clock.advance(60_000)
    expect((await authorize(t, { jar: sso, maxAge: 60 })).signedIn).toBe(false)
  })

  it('one millisecond past max_age forces the sign-in form, and the new auth_time is now', async () => {
    t.clock.advance(60_001)
    const a = await authorize(t, { jar: sso, maxAge: 60 })
    expect(a.signedIn).toBe(true)
    expect((await codeOf(a.code)).authTime).toBe(t.clock.now())
  })

  it('max_age=0 always re-authenticates (equivalent to prompt=login)', async () => {
    const a = await authorize(t, { jar: sso, maxAge: 0 })
    expect(a.signedIn).toBe(true)
  })
})

describe('login_hint', () => {
  it('prefills the username on the sign-in form, escaped', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams({ loginHint: 'bob"><script>x</script>' })
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    expect(login.fields.username).toBe('bob"><script>x</script>')
    expect(login.html).not.toContain('<script>')
    expect(login.html).toContain('value="bob&#34;&#62;&#60;script&#62;x&#60;/script&#62;"')
  })

  it('without a hint the username field is empty and focused', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    expect(login.fields.username).toBe('')
    expect(login.html).toMatch(/name="username" value="" [^>]*autofocus/)
  })
})
