import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import {
  authorizationParams,
  authorize,
  browserFetch,
  CookieJar,
  formFields,
  isLoginRedirect,
  redirectParams,
  rowCounts,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

const IDLE = 600
const ABSOLUTE = 3600

let t: TestServer
beforeAll(async () => {
  t = await startTestServer({
    config: { browserSession: { idleSeconds: IDLE, absoluteSeconds: ABSOLUTE } },
  })
  await t.createUser()
  await t.createUser('mallory', 'mallory password 1')
})
afterAll(async () => {
  await t.close()
})

const idOf = (jar: CookieJar): string => sha256b64u(jar.get('tessera_sso')!)

/** prompt=none with the jar: true when the SSO session answered with a code. */
async function ssoAnswers(jar: CookieJar): Promise<boolean> {
  const { params } = authorizationParams({ prompt: 'none' })
  const p = redirectParams(await startAuthorize(t, params, jar))
  if (p.error !== undefined) expect(p.error).toBe('login_required')
  return p.code !== undefined
}

describe('SES-02 session fixation', () => {
  it('a cookie value planted before sign-in is replaced by a new one the store knows', async () => {
    const jar = new CookieJar()
    const planted = 'p'.repeat(43)
    jar.set('tessera_sso', planted)
    await authorize(t, { jar })
    expect(jar.get('tessera_sso')).not.toBe(planted)
    expect(await t.store.getBrowserSession(sha256b64u(planted))).toBeUndefined()
    expect(await t.store.getBrowserSession(idOf(jar))).toMatchObject({ endedAt: null })
  })

  it("an attacker's live session planted in the victim's browser is ended when the victim signs in", async () => {
    const attacker = (await authorize(t, { username: 'mallory', password: 'mallory password 1' }))
      .cookies
    const plantedValue = attacker.get('tessera_sso')!
    const victim = new CookieJar()
    victim.set('tessera_sso', plantedValue)
    // With a live session the form only shows on prompt=login; the victim signs in as herself.
    const a = await authorize(t, { jar: victim, prompt: 'login' })
    expect(victim.get('tessera_sso')).not.toBe(plantedValue)
    expect((await t.store.getBrowserSession(sha256b64u(plantedValue)))?.endedAt).toBe(t.clock.now())
    expect(await ssoAnswers(attacker)).toBe(false)
    const alice = await t.store.getUserByUsername('alice')
    expect((await t.store.getCode(sha256b64u(a.code)))?.userId).toBe(alice!.id)
  })

  it('every re-authentication gets a new session id; the store never holds the cookie value', async () => {
    const first = await authorize(t)
    const ids = [idOf(first.cookies)]
    for (let i = 0; i < 3; i++) {
      await authorize(t, { jar: first.cookies, prompt: 'login' })
      ids.push(idOf(first.cookies))
    }
    expect(new Set(ids).size).toBe(4)
    for (const id of ids.slice(0, 3))
      expect((await t.store.getBrowserSession(id))?.endedAt).not.toBeNull()
    expect(await t.store.getBrowserSession(first.cookies.get('tessera_sso')!)).toBeUndefined()
  })
})

describe('SES-03 SSO cookie attributes', () => {
  it('over http: tessera_sso, HttpOnly, SameSite=Lax, Path=/, no Domain, no Secure', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const res = await startAuthorize(t, params, jar)
    const page = await browserFetch(jar, new URL(res.headers.get('location')!, t.url).toString())
    const fields = formFields(await page.text())
    const done = await fetch(t.url + '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header()! },
      body: new URLSearchParams({
        ...fields,
        username: 'alice',
        password: 'correct horse battery',
      }),
      redirect: 'manual',
    })
    expect(done.status).toBe(303)
    const cookies = done.headers.getSetCookie()
    expect(cookies).toHaveLength(1)
    expect(cookies[0]).toMatch(
      new RegExp(
        `^tessera_sso=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${ABSOLUTE}$`,
      ),
    )
  })

  it('over https: __Host-tessera_sso with Secure, Path=/ and no Domain; the plain name is ignored', async () => {
    const s = await startTestServer({ config: { issuer: 'https://auth.example.test' } })
    try {
      await s.createUser()
      const jar = new CookieJar()
      const { params } = authorizationParams()
      const res = await startAuthorize(s, params, jar)
      const loginUrl = new URL(res.headers.get('location')!)
      expect(loginUrl.origin).toBe('https://auth.example.test')
      const page = await browserFetch(jar, s.url + loginUrl.pathname + loginUrl.search)
      expect(page.headers.getSetCookie()[0]).toMatch(
        /^__Host-tessera_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
      )
      const fields = formFields(await page.text())
      const done = await browserFetch(jar, s.url + '/login', {
        form: { ...fields, username: 'alice', password: 'correct horse battery' },
      })
      expect(done.status).toBe(303)
      expect(redirectParams(done).iss).toBe('https://auth.example.test')
      const [cookie] = done.headers.getSetCookie()
      expect(cookie).toMatch(
        /^__Host-tessera_sso=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/,
      )
      const value = jar.get('__Host-tessera_sso')!
      const sso = redirectParams(
        await startAuthorize(s, authorizationParams({ prompt: 'none' }).params, jar),
      )
      expect(sso.code).toBeDefined()
      const plain = new CookieJar()
      plain.set('tessera_sso', value)
      const none = redirectParams(
        await startAuthorize(s, authorizationParams({ prompt: 'none' }).params, plain),
      )
      expect(none.error).toBe('login_required')
    } finally {
      await s.close()
    }
  })
})

describe('SES-15 idle and absolute timeouts of the SSO session, from the server clock', () => {
  it('use within the idle timeout keeps the session and touches lastActiveAt', async () => {
    const jar = (await authorize(t)).cookies
    t.clock.advance((IDLE - 1) * 1000)
    expect(await ssoAnswers(jar)).toBe(true)
    expect((await t.store.getBrowserSession(idOf(jar)))?.lastActiveAt).toBe(t.clock.now())
    t.clock.advance((IDLE - 1) * 1000)
    expect(await ssoAnswers(jar)).toBe(true)
  })

  it('idle for exactly the idle timeout: prompt=none gets login_required, the session is ended', async () => {
    const jar = (await authorize(t)).cookies
    t.clock.advance(IDLE * 1000)
    const before = rowCounts(t)
    expect(await ssoAnswers(jar)).toBe(false)
    expect((await t.store.getBrowserSession(idOf(jar)))?.endedAt).toBe(t.clock.now())
    expect(rowCounts(t).live_browser_sessions).toBe(before.live_browser_sessions - 1)
    // Coming back does not revive it.
    expect(await ssoAnswers(jar)).toBe(false)
  })

  it('an idle-expired session means the sign-in form for an interactive request', async () => {
    const jar = (await authorize(t)).cookies
    t.clock.advance(IDLE * 1000 + 1)
    const res = await startAuthorize(t, authorizationParams().params, jar)
    expect(isLoginRedirect(t, res)).toBe(true)
  })

  it('the absolute timeout ends a session that was used all along', async () => {
    const jar = (await authorize(t)).cookies
    const step = 500_000
    let elapsed = 0
    while (elapsed + step < ABSOLUTE * 1000) {
      t.clock.advance(step)
      elapsed += step
      expect(await ssoAnswers(jar)).toBe(true)
    }
    t.clock.advance(ABSOLUTE * 1000 - elapsed - 1)
    expect(await ssoAnswers(jar)).toBe(true)
    t.clock.advance(1)
    expect(await ssoAnswers(jar)).toBe(false)
    const rec = await t.store.getBrowserSession(idOf(jar))
    expect(rec?.endedAt).toBe(rec?.expiresAt)
  })

  it('a disabled user loses the SSO session', async () => {
    const jar = (await authorize(t, { username: 'mallory', password: 'mallory password 1' }))
      .cookies
    const m = (await t.store.getUserByUsername('mallory'))!
    await t.store.updateUser({ ...m, disabled: true })
    try {
      expect(await ssoAnswers(jar)).toBe(false)
      expect((await t.store.getBrowserSession(idOf(jar)))?.endedAt).toBe(t.clock.now())
    } finally {
      await t.store.updateUser({ ...m, disabled: false })
    }
  })

  it('a malformed or unknown cookie is no session', async () => {
    for (const v of [
      '',
      'x',
      'a'.repeat(42),
      'a'.repeat(44),
      'a'.repeat(42) + '!',
      'b'.repeat(43),
    ]) {
      const jar = new CookieJar()
      jar.set('tessera_sso', v)
      expect(await ssoAnswers(jar)).toBe(false)
    }
  })
})
