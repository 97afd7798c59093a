/**
 * Drives two-step verification like a browser: enrolment on the hosted page (`/account/mfa`),
 * the code step of sign-in (`/login/otp`), and TOTP codes computed from the secret the page shows.
 */
import { expect } from 'vitest'
import { totpCode, totpStep } from '../../src/mfa/totp.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  isLoginRedirect,
  openLogin,
  startAuthorize,
  submitLogin,
  type AuthorizeOptions,
} from '../helpers/oauth-flow.js'
import { postForm } from '../helpers/grants.js'
import type { TestServer } from '../helpers/test-server.js'

export const PASSWORD = 'correct horse battery'

/** RFC 4648 base32 (no padding) to bytes. */
export function fromBase32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const ch of s.replace(/\s/g, '')) {
    value = (value << 5) | alphabet.indexOf(ch)
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** The code of the step `offset` steps from the server's current one. */
export function codeAt(t: TestServer, secret: Buffer, offset = 0): string {
  return totpCode(secret, totpStep(t.clock.now()) + offset)
}

export interface Enrolment {
  secret: Buffer
  recoveryCodes: string[]
  html: string
}

/** Enrols a TOTP authenticator for the browser's signed-in user through the hosted page. */
export async function enrolTotp(t: TestServer, jar: CookieJar, query = ''): Promise<Enrolment> {
  const page = await browserFetch(jar, `${t.url}/account/mfa${query}`)
  const html = await page.text()
  expect(page.status, html.slice(0, 300)).toBe(200)
  const key = /<code id="secret">([A-Z2-7 ]+)<\/code>/.exec(html)?.[1]
  if (!key) throw new Error('no secret on the enrolment page')
  const secret = fromBase32(key)
  const fields = formFields(html)
  const res = await browserFetch(jar, `${t.url}/account/mfa`, {
    form: { ...fields, code: codeAt(t, secret) },
  })
  const done = await res.text()
  expect(res.status, done.slice(0, 400)).toBe(200)
  const recoveryCodes = [...done.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map(
    (m) => m[1] ?? '',
  )
  return { secret, recoveryCodes, html: done }
}

/** Starts an authorization request and signs in with the password; returns the answer to the
 * password POST (the code form for a user with an authenticator, else the redirect). */
export async function passwordStep(
  t: TestServer,
  o: AuthorizeOptions & { jar?: CookieJar } = {},
): Promise<{
  res: Response
  jar: CookieJar
  codeVerifier: string
  redirectUri: string
  clientId: string
}> {
  const jar = o.jar ?? new CookieJar()
  const a = authorizationParams(o)
  const start = await startAuthorize(t, a.params, jar)
  if (!isLoginRedirect(t, start)) {
    return {
      res: start,
      jar,
      codeVerifier: a.codeVerifier,
      redirectUri: a.redirectUri,
      clientId: a.clientId,
    }
  }
  const login = await openLogin(t, start, jar)
  const res = await submitLogin(t, login.fields, jar, o.username ?? 'alice', o.password ?? PASSWORD)
  return {
    res,
    jar,
    codeVerifier: a.codeVerifier,
    redirectUri: a.redirectUri,
    clientId: a.clientId,
  }
}

/** Posts a code to the code form `page` (an HTML response of the code step). */
export async function submitCode(
  t: TestServer,
  jar: CookieJar,
  html: string,
  code: string,
): Promise<Response> {
  return browserFetch(jar, `${t.url}/login/otp`, { form: { ...formFields(html), code } })
}

/** The `code` of a redirect back to the client, or throws with what came instead. */
export function codeFrom(res: Response): string {
  const loc = res.headers.get('location')
  if (res.status !== 303 || !loc) throw new Error(`expected a 303 to the client, got ${res.status}`)
  const code = new URL(loc).searchParams.get('code')
  if (!code) throw new Error(`no code in the redirect: ${loc}`)
  return code
}

/** Redeems a code from the front channel. */
export function redeem(
  t: TestServer,
  f: { codeVerifier: string; redirectUri: string; clientId: string },
  code: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  return postForm(t.url + '/oauth/token', {
    grant_type: 'authorization_code',
    code,
    code_verifier: f.codeVerifier,
    redirect_uri: f.redirectUri,
    client_id: f.clientId,
    ...extra,
  })
}

/** The payload of a JWT, unverified (the tests read claims the server just issued). */
export function claims(jwt: string): Record<string, any> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8'))
}
