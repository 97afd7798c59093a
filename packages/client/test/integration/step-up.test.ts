/**
 * STEP-01 (RFC 9470) end to end: a real Tessera server, a real API whose tokens are checked by
 * `@tessera/verify` (`authenticateRequest` with per-route requirements, its clock the server's
 * fake one), and the client. A route too demanding for the token's sign-in answers 401
 * `insufficient_user_authentication`; the client hands that answer back as it is, with no
 * refresh and no sign-out, reports `step_up_required`, and `stepUp` runs the hosted sign-in with
 * `max_age` / `acr_values`, after which the API accepts the new token.
 */
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browserFetch,
  CookieJar,
  formFields,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../../server/test/helpers/oauth-flow.js'
import {
  codeAt,
  enrolTotp,
  passwordStep,
  submitCode,
} from '../../../server/test/mfa/mfa-helpers.js'
import type { DiagnosticEvent, TesseraClient } from '../../src/index.js'
import { ALICE, clientFor, startTessera, type Tessera } from '../helpers/tessera.js'
import { VerifiedApi } from '../helpers/verified-api.js'

const MFA = 'urn:tessera:acr:mfa'
const PWD = 'urn:tessera:acr:pwd'

let s: Tessera
const api = new VerifiedApi()
api.clock = { now: () => s.t.clock.now() }
api.requirements.set('/fresh', { maxAge: 60 })
api.requirements.set('/strong', { acrValues: [MFA] })

beforeAll(async () => {
  s = await startTessera({ verifiedApi: api })
})
afterAll(async () => {
  await s.close()
})

function stepUpClient() {
  const made = clientFor(s, { apis: [{ baseUrl: api.url, audience: api.url, scope: 'orders' }] })
  const events: DiagnosticEvent[] = []
  made.client.onDiagnostic((e) => events.push(e))
  return { ...made, events }
}

/** The client's sign-in through the hosted form in the browser `jar` (its SSO cookie stays). */
async function signInWith(client: TesseraClient, jar: CookieJar, url: URL): Promise<URL> {
  let res = await browserFetch(jar, url.href)
  if (isLoginRedirect(s.t, res)) {
    const login = await openLogin(s.t, res, jar)
    res = await submitLogin(s.t, login.fields, jar, ALICE.username, ALICE.password)
  }
  expect(res.status).toBe(303)
  return new URL(res.headers.get('location') ?? '')
}

async function call(client: TesseraClient, path: string) {
  const res = await client.fetch(api.url + path)
  return {
    status: res.status,
    www: res.headers.get('www-authenticate'),
    body: (await res.json()) as Record<string, unknown>,
  }
}

describe('STEP-01 step-up challenges from an API', () => {
  it('STEP-01 a route with maxAge 60 refuses a sign-in older than 60 s with the RFC 9470 challenge; the client neither refreshes nor signs out, and stepUp re-authenticates', async () => {
    const { client, counting, events } = stepUpClient()
    const jar = new CookieJar()
    await client.handleRedirectCallback(await signInWith(client, jar, await client.signIn()))
    const first = await call(client, '/fresh')
    expect(first.status).toBe(200)
    const authTime = first.body.auth_time as number
    expect(typeof authTime).toBe('number')

    s.t.clock.advance(61_000)
    const tokenCalls = counting.tokenCalls.length
    const apiCalls = api.requests.length
    const refused = await call(client, '/fresh')
    expect(refused).toEqual({
      status: 401,
      www: 'Bearer error="insufficient_user_authentication", error_description="this route needs a sign-in within the last 60 seconds", max_age="60"',
      body: {
        error: 'insufficient_user_authentication',
        error_description: 'this route needs a sign-in within the last 60 seconds',
      },
    })
    // No refresh, no replay, no sign-out: the answer is the API's, and the session is kept.
    expect(counting.tokenCalls.length - tokenCalls).toBe(0)
    expect(api.requests.length - apiCalls).toBe(1)
    expect(events.filter((e) => e.type === 'token_rejected' || e.type === 'replay')).toEqual([])
    const challenge = events.find((e) => e.type === 'step_up_required')
    expect(challenge).toEqual({
      type: 'step_up_required',
      audience: api.url,
      acrValues: undefined,
      maxAge: 60,
    })
    expect(client.getSnapshot().status).toBe('signed-in')

    // The step-up: the same browser's SSO session is too old for max_age=60, so the hosted
    // form is shown again.
    const url = await client.stepUp({ maxAge: 60, returnTo: 'https://app.example.test/orders' })
    expect(url.searchParams.get('max_age')).toBe('60')
    expect(url.searchParams.get('prompt')).toBeNull()
    const atAuthorize = await browserFetch(jar, url.href)
    expect(isLoginRedirect(s.t, atAuthorize)).toBe(true)
    const login = await openLogin(s.t, atAuthorize, jar)
    const back = await submitLogin(s.t, login.fields, jar, ALICE.username, ALICE.password)
    const done = await client.handleRedirectCallback(new URL(back.headers.get('location') ?? ''))
    expect(done.returnTo).toBe('https://app.example.test/orders')

    const retried = await call(client, '/fresh')
    expect(retried.status).toBe(200)
    expect(retried.body.auth_time).toBeGreaterThanOrEqual(authTime + 61)
    client.dispose()
  })

  it('STEP-01 a route demanding acr urn:tessera:acr:mfa refuses a password-only token with acr_values and accepts after a TOTP step-up', async () => {
    const { client, counting, events } = stepUpClient()
    const jar = new CookieJar()
    await client.handleRedirectCallback(await signInWith(client, jar, await client.signIn()))
    const token = await client.getToken({ audience: api.url })
    expect(decodeJwt(token).acr).toBe(PWD)

    const tokenCalls = counting.tokenCalls.length
    const refused = await call(client, '/strong')
    expect(refused.status).toBe(401)
    expect(refused.www).toBe(
      `Bearer error="insufficient_user_authentication", error_description="the authentication level (acr) is not one this route accepts", acr_values="${MFA}"`,
    )
    expect(counting.tokenCalls.length - tokenCalls).toBe(0)
    const challenge = events.find((e) => e.type === 'step_up_required')
    expect(challenge).toEqual({
      type: 'step_up_required',
      audience: api.url,
      acrValues: [MFA],
      maxAge: undefined,
    })
    expect(client.getSnapshot().status).toBe('signed-in')

    // Alice adds an authenticator in another browser; this browser's sign-in stays password-only.
    const other = await passwordStep(s.t, { password: ALICE.password })
    const { secret } = await enrolTotp(s.t, other.jar)
    expect((await call(client, '/strong')).status).toBe(401)

    // The step-up asks for the code only (the SSO session has the password).
    const url = await client.stepUp({ acrValues: [MFA] })
    expect(url.searchParams.get('acr_values')).toBe(MFA)
    const step = await browserFetch(jar, url.href)
    const otp = new URL(step.headers.get('location') ?? '', s.t.url)
    expect(otp.pathname).toBe('/login/otp')
    const page = await browserFetch(jar, otp.href)
    const html = await page.text()
    expect(formFields(html).password).toBeUndefined()
    s.t.clock.advance(30_000) // the enrolment spent the current step's code
    const back = await submitCode(s.t, jar, html, codeAt(s.t, secret))
    await client.handleRedirectCallback(new URL(back.headers.get('location') ?? ''))

    const accepted = await call(client, '/strong')
    expect(accepted.status).toBe(200)
    expect(accepted.body.acr).toBe(MFA)
    expect(decodeJwt(await client.getToken({ audience: api.url })).amr).toEqual([
      'pwd',
      'otp',
      'mfa',
    ])
    client.dispose()
  })

  it('stepUp with maxAge 0 sends prompt=login', async () => {
    const { client } = stepUpClient()
    const url = await client.stepUp({ maxAge: 0, acrValues: [MFA, PWD] })
    expect(url.searchParams.get('max_age')).toBe('0')
    expect(url.searchParams.get('prompt')).toBe('login')
    expect(url.searchParams.get('acr_values')).toBe(`${MFA} ${PWD}`)
    client.dispose()
  })
})
