import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorizationParams,
  authorize,
  browserFetch,
  CookieJar,
  formFields,
  openLogin,
  redirectParams,
  rowCounts,
  startAuthorize,
  submitLogin,
} from '../helpers/oauth-flow.js'
import { startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
  await t.createUser()
})
afterAll(async () => {
  await t.close()
})

/** A browser at the sign-in form of a fresh authorization request. */
async function atLoginForm(o: { state?: string } = {}) {
  const jar = new CookieJar()
  const { params } = authorizationParams({ state: o.state ?? 'st' })
  const res = await startAuthorize(t, params, jar)
  const login = await openLogin(t, res, jar)
  return { jar, authorizeResponse: res, ...login }
}

function expectFrontChannelHeaders(res: Response): void {
  expect(res.headers.get('content-security-policy')).toMatch(/(^|; )frame-ancestors 'none'(;|$)/)
  expect(res.headers.get('content-security-policy')).toMatch(/(^|; )default-src 'none'(;|$)/)
  expect(res.headers.get('x-frame-options')).toBe('DENY')
  expect(res.headers.get('referrer-policy')).toBe('no-referrer')
  expect(res.headers.get('cache-control')).toBe('no-store')
}

describe('the sign-in page', () => {
  it('RDR-11 RDR-15 the form forbids framing and referrers and is not cached', async () => {
    const { res, html } = await atLoginForm()
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expectFrontChannelHeaders(res)
    expect(html).toContain('<meta name="referrer" content="no-referrer">')
  })

  it('RDR-11 RDR-15 a failed sign-in page carries the same headers', async () => {
    const { jar, fields } = await atLoginForm()
    const res = await submitLogin(t, fields, jar, 'alice', 'wrong password!')
    expect(res.status).toBe(400)
    expectFrontChannelHeaders(res)
  })

  it('RDR-15 the redirects into and out of the sign-in page carry no-referrer and no-store', async () => {
    const { jar, fields, authorizeResponse } = await atLoginForm()
    expect(authorizeResponse.headers.get('referrer-policy')).toBe('no-referrer')
    expect(authorizeResponse.headers.get('cache-control')).toBe('no-store')
    const done = await submitLogin(t, fields, jar, 'alice', 'correct horse battery')
    expect(done.headers.get('referrer-policy')).toBe('no-referrer')
    expect(done.headers.get('cache-control')).toBe('no-store')
  })

  it('RDR-15 the page loads no scripts and no third-party resources; it works without JavaScript', async () => {
    const { html } = await atLoginForm()
    expect(html).not.toMatch(/<script|<link|<iframe|<img|<object|<embed|\bon\w+=|javascript:/i)
    const urls = [...html.matchAll(/\b(?:src|href|action)="([^"]*)"/g)].map((m) => m[1])
    expect(urls).toEqual([t.url + '/login'])
    expect(html).toContain(`<form method="post" action="${t.url}/login">`)
    expect(html).toMatch(
      /<input type="password" id="password" name="password" autocomplete="current-password"/,
    )
    // The one inline style is allowed by its hash in the CSP, not by 'unsafe-inline'.
    const { res } = await atLoginForm()
    expect(res.headers.get('content-security-policy')).toMatch(
      /style-src 'sha256-[A-Za-z0-9+/]{43}='/,
    )
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline')
  })

  it('RDR-10 a successful credential POST answers 303 to the client, never 307', async () => {
    const { jar, fields } = await atLoginForm({ state: 'st-10' })
    const res = await submitLogin(t, fields, jar, 'alice', 'correct horse battery')
    expect(res.status).toBe(303)
    const loc = new URL(res.headers.get('location')!)
    expect(loc.origin + loc.pathname).toBe(WEB_REDIRECT)
    expect(Object.keys(redirectParams(res))).toEqual(['code', 'state', 'iss'])
  })

  it('the username is kept after a failed attempt, the password is not', async () => {
    const { jar, fields } = await atLoginForm()
    const res = await submitLogin(t, fields, jar, 'alice', 'not the password')
    const again = formFields(await res.text())
    expect(again.username).toBe('alice')
    expect(again.password).toBe('')
    expect(again.tx).toBe(fields.tx)
  })
})

describe("form-action: the sign-in form may post only to this server, whose answer goes only to the request's redirect URI", () => {
  const directive = (res: Response) =>
    /(?:^|; )form-action ([^;]*)(?:;|$)/.exec(res.headers.get('content-security-policy') ?? '')?.[1]

  it('the form page, a failed attempt and a refused (CSRF) page name self and the redirect origin', async () => {
    const { res, jar, fields } = await atLoginForm()
    expect(directive(res)).toBe(`'self' https://app.example.test`)
    const failed = await submitLogin(t, fields, jar, 'alice', 'wrong password!')
    expect(failed.status).toBe(400)
    expect(directive(failed)).toBe(`'self' https://app.example.test`)
    const refused = await submitLogin(t, { ...fields, csrf: 'A'.repeat(43) }, jar, 'a', 'b')
    expect(refused.status).toBe(403)
    expect(directive(refused)).toBe(`'self' https://app.example.test`)
  })

  it('a private-use scheme redirect is allowed by its scheme, a loopback one by its origin and port', async () => {
    for (const [redirectUri, expected] of [
      ['com.example.app:/callback', `'self' com.example.app:`],
      ['http://127.0.0.1:53682/cb', `'self' http://127.0.0.1:53682`],
      // CSP cannot write an IPv6 literal as a host: the scheme it is, then.
      ['http://[::1]:53682/cb', `'self' http:`],
    ]) {
      const jar = new CookieJar()
      const { params } = authorizationParams({ clientId: 'native-app', redirectUri })
      const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
      expect(login.res.status).toBe(200)
      expect(directive(login.res)).toBe(expected)
    }
  })

  it('pages without a form allow no form target', async () => {
    const res = await fetch(t.url + '/login?tx=expired.transaction', { redirect: 'manual' })
    expect(res.status).toBe(400)
    expect(directive(res)).toBe(`'none'`)
  })
})

describe('CSRF on the sign-in POST (signed double-submit cookie)', () => {
  async function expectRefused(
    res: Response,
    before: ReturnType<typeof rowCounts>,
  ): Promise<string> {
    expect(res.status).toBe(403)
    expect(res.headers.get('location')).toBeNull()
    const html = await res.text()
    expect(html).toContain('This form has expired. Please sign in again.')
    expect(rowCounts(t)).toEqual(before)
    return html
  }

  it('a POST without the CSRF cookie is refused before the password is checked; nothing changes', async () => {
    const { fields } = await atLoginForm()
    const before = rowCounts(t)
    const res = await submitLogin(t, fields, new CookieJar(), 'alice', 'correct horse battery')
    await expectRefused(res, before)
  })

  it('a form posted from another browser (another CSRF cookie) is refused', async () => {
    const victim = await atLoginForm()
    const attacker = await atLoginForm()
    const before = rowCounts(t)
    // The attacker's own form and credentials, submitted through the victim's browser (login CSRF).
    const res = await submitLogin(t, attacker.fields, victim.jar, 'alice', 'correct horse battery')
    await expectRefused(res, before)
  })

  it('a token of another transaction is refused', async () => {
    const first = await atLoginForm()
    const { params } = authorizationParams()
    const second = await openLogin(t, await startAuthorize(t, params, first.jar), first.jar)
    const before = rowCounts(t)
    const res = await submitLogin(
      t,
      { ...second.fields, csrf: first.fields.csrf! },
      first.jar,
      'alice',
      'correct horse battery',
    )
    await expectRefused(res, before)
  })

  it('a missing or forged token is refused', async () => {
    const { jar, fields } = await atLoginForm()
    for (const csrf of [
      '',
      'A'.repeat(43),
      fields.csrf!.slice(0, -1) + (fields.csrf!.endsWith('A') ? 'B' : 'A'),
    ]) {
      const before = rowCounts(t)
      await expectRefused(
        await submitLogin(t, { ...fields, csrf }, jar, 'alice', 'correct horse battery'),
        before,
      )
    }
  })

  it('the refusal page carries a fresh form that then works', async () => {
    const { fields } = await atLoginForm()
    const jar = new CookieJar()
    const res = await submitLogin(t, fields, jar, 'alice', 'correct horse battery')
    expect(res.status).toBe(403)
    expect(jar.get('tessera_csrf')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const retry = await submitLogin(
      t,
      formFields(await res.text()),
      jar,
      'alice',
      'correct horse battery',
    )
    expect(retry.status).toBe(303)
    expect(redirectParams(retry).code).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })

  it('the CSRF cookie is HttpOnly, SameSite=Lax, Path=/, and not Secure over http', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const res = await startAuthorize(t, params, jar)
    const page = await fetch(new URL(res.headers.get('location')!, t.url), { redirect: 'manual' })
    const [cookie] = page.headers.getSetCookie()
    expect(cookie).toMatch(/^tessera_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
  })
})

describe('the login transaction', () => {
  it('expires after 15 minutes: the page and the POST say so, nothing changes', async () => {
    const { jar, fields, authorizeResponse } = await atLoginForm()
    t.clock.advance(15 * 60_000)
    const page = await browserFetch(
      jar,
      new URL(authorizeResponse.headers.get('location')!, t.url).toString(),
    )
    expect(page.status).toBe(400)
    expect(await page.text()).toContain('This sign-in page has expired or is not valid.')
    const before = rowCounts(t)
    const res = await submitLogin(t, fields, jar, 'alice', 'correct horse battery')
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(rowCounts(t)).toEqual(before)
  })

  it('one millisecond before expiry it still works', async () => {
    const { jar, fields } = await atLoginForm()
    t.clock.advance(15 * 60_000 - 1)
    expect((await submitLogin(t, fields, jar, 'alice', 'correct horse battery')).status).toBe(303)
  })

  it('a tampered transaction is refused (its MAC no longer fits)', async () => {
    const { jar, fields } = await atLoginForm()
    const [body, mac] = fields.tx!.split('.') as [string, string]
    const decoded = JSON.parse(Buffer.from(body, 'base64url').toString()) as {
      p: [string, string[]][]
    }
    decoded.p = decoded.p.map(([k, v]) =>
      k === 'redirect_uri' ? [k, ['https://evil.example/cb']] : [k, v],
    )
    const forged = `${Buffer.from(JSON.stringify(decoded)).toString('base64url')}.${mac}`
    const before = rowCounts(t)
    const res = await submitLogin(
      t,
      { ...fields, tx: forged },
      jar,
      'alice',
      'correct horse battery',
    )
    expect(res.status).toBe(400)
    expect(res.headers.get('location')).toBeNull()
    expect(rowCounts(t)).toEqual(before)
  })

  it('GET /login without a transaction is an error page', async () => {
    const res = await fetch(t.url + '/login')
    expect(res.status).toBe(400)
    expect(res.headers.get('x-frame-options')).toBe('DENY')
  })

  it('the transaction carries only the recognised parameters', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams({ extra: { tracking: 'x'.repeat(500) } })
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    const body = JSON.parse(
      Buffer.from(login.fields.tx!.split('.')[0]!, 'base64url').toString(),
    ) as {
      p: [string, string[]][]
    }
    expect(body.p.map(([k]) => k).sort()).toEqual(
      [
        'client_id',
        'code_challenge',
        'code_challenge_method',
        'redirect_uri',
        'response_type',
        'scope',
        'state',
      ].sort(),
    )
  })
})

describe('bad input on the sign-in POST: 4xx, nothing changes', () => {
  const rows: [string, (f: Record<string, string | string[]>) => void, number][] = [
    ['duplicate username', (f) => (f.username = ['alice', 'bob']), 400],
    ['duplicate password', (f) => (f.password = ['a', 'b']), 400],
    ['duplicate tx', (f) => (f.tx = [f.tx as string, f.tx as string]), 400],
    ['username of 257 characters', (f) => (f.username = 'u'.repeat(257)), 400],
    ['password of 1025 characters', (f) => (f.password = 'p'.repeat(1025)), 400],
    ['missing password', (f) => delete f.password, 400],
    ['missing username', (f) => delete f.username, 400],
    ['tx of 20000 characters', (f) => (f.tx = 'x'.repeat(20_000)), 400],
  ]
  it.each(rows)('%s', async (_name, change, status) => {
    const { jar, fields } = await atLoginForm()
    const form: Record<string, string | string[]> = {
      ...fields,
      username: 'alice',
      password: 'correct horse battery',
    }
    change(form)
    const before = rowCounts(t)
    const res = await browserFetch(jar, t.url + '/login', { form })
    expect(res.status).toBe(status)
    expect(res.headers.get('location')).toBeNull()
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(rowCounts(t)).toEqual(before)
  })

  it('a JSON body is refused with a page', async () => {
    const { jar, fields } = await atLoginForm()
    const before = rowCounts(t)
    const res = await fetch(t.url + '/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: jar.header()! },
      body: JSON.stringify({ ...fields, username: 'alice', password: 'correct horse battery' }),
      redirect: 'manual',
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(rowCounts(t)).toEqual(before)
  })

  it('a successful sign-in still works after all that: a code for the client, one new sign-in', async () => {
    const before = rowCounts(t)
    const a = await authorize(t, { state: 'after-bad-input' })
    expect(a.signedIn).toBe(true)
    expect(a.location.origin + a.location.pathname).toBe(WEB_REDIRECT)
    expect(a.code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect([a.state, a.iss]).toEqual(['after-bad-input', t.url])
    const after = rowCounts(t)
    expect(after.live_browser_sessions).toBe(before.live_browser_sessions + 1)
    expect(after.authorization_codes).toBe(before.authorization_codes + 1)
  })
})
