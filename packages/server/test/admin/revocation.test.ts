import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import { mintCode, postForm } from '../helpers/grants.js'
import {
  authorizationParams,
  authorize,
  openLogin,
  redirectParams,
  startAuthorize,
  submitLogin,
  CookieJar,
  type AuthorizeResult,
} from '../helpers/oauth-flow.js'
import {
  expectOAuthError,
  isActive,
  NO_LONGER_VALID,
  refresh,
  tokenClients,
  LENIENT_THROTTLE,
} from '../token/fixtures.js'
import {
  adminApi,
  allEvents,
  API_ACTOR,
  startAdminServer,
  type TestServer,
} from './admin-helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startAdminServer({ clients: tokenClients, config: { throttle: LENIENT_THROTTLE } })
})
afterAll(async () => {
  await t.close()
})

interface Signed {
  user: UserRecord
  password: string
  jar: CookieJar
  browserSessionId: string
  /** Two client sessions of one sign-on, with their tokens. */
  sessions: { id: string; clientId: string; refreshToken: string; accessToken: string }[]
  /** An authorization code issued but not yet redeemed. */
  pendingCode: Awaited<ReturnType<typeof mintCode>>
}

let n = 0
/** A user signed in through the hosted page at web-app and other-app, plus an unredeemed code. */
async function signedIn(): Promise<Signed> {
  const password = 'correct horse battery'
  const user = await t.createUser(`user${++n}`, password)
  const a = await authorize(t, { username: user.username, password })
  const b = await authorize(t, {
    jar: a.cookies,
    clientId: 'other-app',
    redirectUri: 'https://other.example.test/callback',
  })
  const sessions = []
  for (const x of [a, b]) sessions.push(await redeem(x))
  return {
    user,
    password,
    jar: a.cookies,
    browserSessionId: sha256b64u(a.cookies.get('tessera_sso')!),
    sessions,
    pendingCode: await mintCode(t, user),
  }
}

async function redeem(a: AuthorizeResult) {
  const r = await postForm(t.url + '/oauth/token', {
    grant_type: 'authorization_code',
    code: a.code,
    code_verifier: a.codeVerifier,
    redirect_uri: a.redirectUri,
    client_id: a.clientId,
  })
  expect(r.status).toBe(200)
  const sid = decodeJwt(r.body.access_token as string).sid as string
  return {
    id: sid,
    clientId: a.clientId,
    refreshToken: r.body.refresh_token as string,
    accessToken: r.body.access_token as string,
  }
}

/** prompt=none with the browser's SSO cookie: true when it still answers with a code. */
async function ssoAnswers(jar: CookieJar): Promise<boolean> {
  const p = redirectParams(
    await startAuthorize(t, authorizationParams({ prompt: 'none' }).params, jar),
  )
  if (p.error !== undefined) expect(p.error).toBe('login_required')
  return p.code !== undefined
}

/** Everything the user was signed in with is dead, in the store and to every client. */
async function expectAllRevoked(s: Signed, reason: string): Promise<void> {
  const now = t.clock.now()
  for (const x of s.sessions) {
    expectOAuthError(
      await refresh(t, x.refreshToken, {}, x.clientId),
      400,
      'invalid_grant',
      NO_LONGER_VALID,
    )
    expect(await isActive(t, x.accessToken)).toBe(false)
    expect(await isActive(t, x.refreshToken)).toBe(false)
    expect(await t.store.getSession(x.id)).toMatchObject({ state: 'revoked', reason, endedAt: now })
  }
  expect((await t.store.getBrowserSession(s.browserSessionId))?.endedAt).toBe(now)
  expect(await ssoAnswers(s.jar)).toBe(false)
  // A code issued before the action cannot start a session after it: the action consumed it.
  expect((await t.store.getCode(sha256b64u(s.pendingCode.code)))?.consumedAt).toBe(now)
  const code = await postForm(t.url + '/oauth/token', {
    grant_type: 'authorization_code',
    code: s.pendingCode.code,
    code_verifier: s.pendingCode.verifier,
    redirect_uri: s.pendingCode.redirectUri,
    client_id: s.pendingCode.clientId,
  })
  expect(code.status).toBe(400)
  expect(code.body.error).toBe('invalid_grant')
  expectOAuthError(code, 400, 'invalid_grant', 'the authorization code has already been used')
  expect(await t.store.listSessions({ userId: s.user.id, state: 'active' })).toStrictEqual([])
  // One session_revoked event per session, with the reason and the actor.
  const events = (await allEvents(t)).filter(
    (e) => e.type === 'session_revoked' && e.userId === s.user.id,
  )
  expect(events.map((e) => e.sessionId).sort()).toStrictEqual(s.sessions.map((x) => x.id).sort())
  for (const e of events) {
    expect(e).toMatchObject({ ip: '127.0.0.1', data: { reason, actor: API_ACTOR } })
    expect(e.clientId).toBe(s.sessions.find((x) => x.id === e.sessionId)!.clientId)
  }
}

async function expectAlive(s: Signed): Promise<void> {
  expect(await ssoAnswers(s.jar)).toBe(true)
  for (const x of s.sessions) expect(await isActive(t, x.accessToken)).toBe(true)
}

/** The hosted sign-in form's answer for a username and password. */
async function signInAttempt(
  username: string,
  password: string,
): Promise<{ status: number; html: string }> {
  const jar = new CookieJar()
  const res = await startAuthorize(t, authorizationParams().params, jar)
  const login = await openLogin(t, res, jar)
  const done = await submitLogin(t, login.fields, jar, username, password)
  return { status: done.status, html: done.status === 303 ? '' : await done.text() }
}

describe('SES-06 an admin disables a user', () => {
  it('revokes every session, the SSO session and open codes, with events, atomically with the disable', async () => {
    const s = await signedIn()
    const bystander = await signedIn()
    const r = await adminApi(t, 'POST', `/users/${s.user.id}/disable`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      user: { id: s.user.id, disabled: true },
      sessionsRevoked: 2,
      browserSessionsEnded: 1,
    })
    expect((await t.store.getUser(s.user.id))?.disabled).toBe(true)
    await expectAllRevoked(s, 'user_disabled')
    const action = (await allEvents(t)).filter((e) => e.type === 'user_disabled')
    expect(action).toHaveLength(1)
    expect(action[0]).toMatchObject({ userId: s.user.id, data: { actor: API_ACTOR } })
    await expectAlive(bystander)
  })

  it('the disabled user cannot sign in: the same generic error as a wrong password, and the attempt is audited', async () => {
    const s = await signedIn()
    expect((await adminApi(t, 'POST', `/users/${s.user.id}/disable`)).status).toBe(200)
    const disabled = await signInAttempt(s.user.username, s.password)
    const wrong = await signInAttempt(s.user.username, 'not the password')
    expect(disabled.status).toBe(400)
    expect(wrong.status).toBe(400)
    expect(disabled.html).toContain('Incorrect username or password.')
    const strip = (h: string) => h.replace(/value="[^"]*"/g, '')
    expect(strip(disabled.html)).toBe(strip(wrong.html))
    const failures = await t.store.listEvents({ type: 'sign_in_failure', userId: s.user.id })
    expect(failures.map((e) => e.data.reason).sort()).toStrictEqual(['disabled', 'wrong_password'])

    // Enabled again, the user signs in, but nothing revoked comes back.
    expect((await adminApi(t, 'POST', `/users/${s.user.id}/enable`)).status).toBe(200)
    expect((await signInAttempt(s.user.username, s.password)).status).toBe(303)
    for (const x of s.sessions) expect(await isActive(t, x.refreshToken)).toBe(false)
  })
})

describe('SES-06 an admin deletes a user', () => {
  it('revokes everything first; the session rows and events stay for the audit trail', async () => {
    const s = await signedIn()
    const r = await adminApi(t, 'DELETE', `/users/${s.user.id}`)
    expect(r.status).toBe(200)
    expect(r.body).toStrictEqual({
      id: s.user.id,
      username: s.user.username,
      sessionsRevoked: 2,
      browserSessionsEnded: 1,
    })
    expect(await t.store.getUser(s.user.id)).toBeUndefined()
    await expectAllRevoked(s, 'user_deleted')
    expect(
      (await t.store.listEvents({ type: 'user_deleted', userId: s.user.id }))[0],
    ).toMatchObject({
      data: { actor: API_ACTOR, username: s.user.username },
    })
    expect((await signInAttempt(s.user.username, s.password)).status).toBe(400)
    expect((await adminApi(t, 'GET', `/users/${s.user.id}`)).status).toBe(404)
  })
})

describe('SES-05 an admin resets a password', () => {
  it('revokes every session and the SSO session; the new password signs in, the old one does not', async () => {
    const s = await signedIn()
    const r = await adminApi(t, 'POST', `/users/${s.user.id}/password`, {
      password: 'a brand new password',
    })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ sessionsRevoked: 2, browserSessionsEnded: 1 })
    expect(JSON.stringify(r.body)).not.toContain('a brand new password')
    expect((await t.store.getUser(s.user.id))?.passwordChangedAt).toBe(t.clock.now())
    await expectAllRevoked(s, 'password_change')
    expect(
      (await t.store.listEvents({ type: 'password_changed', userId: s.user.id }))[0],
    ).toMatchObject({
      data: { actor: API_ACTOR },
    })
    expect((await signInAttempt(s.user.username, s.password)).status).toBe(400)
    expect((await signInAttempt(s.user.username, 'a brand new password')).status).toBe(303)
  })

  it('a password that breaks the rules changes nothing and revokes nothing', async () => {
    const s = await signedIn()
    const before = await t.store.getUser(s.user.id)
    const eventsBefore = (await allEvents(t)).length
    const r = await adminApi(t, 'POST', `/users/${s.user.id}/password`, { password: 'short' })
    expect(r.status).toBe(400)
    expect(r.body).toStrictEqual({
      error: 'invalid_request',
      error_description: 'password must be 8 to 1024 characters',
    })
    expect(await t.store.getUser(s.user.id)).toStrictEqual(before)
    expect((await allEvents(t)).length).toBe(eventsBefore)
    await expectAlive(s)
  })
})

describe('SES-06 an admin terminates all sessions of a user', () => {
  it('revokes sessions, SSO session and codes with reason admin; the account stays usable', async () => {
    const s = await signedIn()
    const r = await adminApi(t, 'POST', `/users/${s.user.id}/sessions/revoke`)
    expect(r.status).toBe(200)
    expect(r.body).toStrictEqual({ sessionsRevoked: 2, browserSessionsEnded: 1 })
    await expectAllRevoked(s, 'admin')
    const action = await t.store.listEvents({ type: 'user_sessions_revoked', userId: s.user.id })
    expect(action.map((e) => e.data)).toStrictEqual([{ actor: API_ACTOR }])
    // Again: nothing left to end.
    expect((await adminApi(t, 'POST', `/users/${s.user.id}/sessions/revoke`)).body).toStrictEqual({
      sessionsRevoked: 0,
      browserSessionsEnded: 0,
    })
    expect((await t.store.getUser(s.user.id))?.disabled).toBe(false)
    expect((await signInAttempt(s.user.username, s.password)).status).toBe(303)
  })

  it('revoking one session ends that refresh family only', async () => {
    const s = await signedIn()
    const [one, two] = s.sessions as [Signed['sessions'][0], Signed['sessions'][0]]
    const r = await adminApi(t, 'POST', `/sessions/${one.id}/revoke`)
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      id: one.id,
      state: 'revoked',
      reason: 'admin',
      endedAt: t.clock.now(),
    })
    expectOAuthError(
      await refresh(t, one.refreshToken, {}, one.clientId),
      400,
      'invalid_grant',
      NO_LONGER_VALID,
    )
    expect(await isActive(t, one.accessToken)).toBe(false)
    expect(await isActive(t, two.accessToken)).toBe(true)
    expect(await ssoAnswers(s.jar)).toBe(true)
    const ev = await t.store.listEvents({ sessionId: one.id, type: 'session_revoked' })
    expect(ev).toHaveLength(1)
    expect(ev[0]).toMatchObject({
      userId: s.user.id,
      clientId: one.clientId,
      data: { reason: 'admin', actor: API_ACTOR },
    })

    const again = await adminApi(t, 'POST', `/sessions/${one.id}/revoke`)
    expect(again.status).toBe(409)
    expect(again.body).toStrictEqual({
      error: 'conflict',
      error_description: `session ${one.id} has already ended (revoked)`,
    })
    expect(await t.store.listEvents({ sessionId: one.id, type: 'session_revoked' })).toHaveLength(1)
  })
})
