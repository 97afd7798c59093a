/**
 * `currentTask` against a real Tessera server: a client that requires MFA signs a user without an
 * authenticator in; the session is `pending` with the task `setup-mfa` (the ID token's
 * `tessera_task`), API tokens are refused without signing out, and after the user enrols on the
 * hosted page the next refresh clears the task and API tokens flow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../../server/test/helpers/oauth-flow.js'
import { enrolTotp } from '../../../server/test/mfa/mfa-helpers.js'
import { TesseraClientError } from '../../src/index.js'
import { ALICE, API_A, clientFor, startTessera, type Tessera } from '../helpers/tessera.js'

let s: Tessera
beforeAll(async () => {
  s = await startTessera({ client: { requireMfa: true } })
})
afterAll(async () => {
  await s.close()
})

describe('session tasks', () => {
  it('currentTask is the ID token’s tessera_task: setup-mfa while pending, null once the user has enrolled', async () => {
    const { client } = clientFor(s)
    const jar = new CookieJar()
    let res = await browserFetch(jar, (await client.signIn()).href)
    if (isLoginRedirect(s.t, res)) {
      const login = await openLogin(s.t, res, jar)
      res = await submitLogin(s.t, login.fields, jar, ALICE.username, ALICE.password)
    }
    await client.handleRedirectCallback(new URL(res.headers.get('location') ?? ''))
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', currentTask: 'setup-mfa' })

    // An API token is refused without ending the session.
    let refused: unknown
    try {
      await client.getToken({ audience: API_A })
    } catch (err) {
      refused = err
    }
    expect(refused).toBeInstanceOf(TesseraClientError)
    expect((refused as TesseraClientError).code).toBe('request_rejected')
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', currentTask: 'setup-mfa' })

    await enrolTotp(s.t, jar)
    const token = await client.getToken({ audience: API_A })
    expect(JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).acr).toBe(
      'urn:tessera:acr:mfa',
    )
    expect(client.getSnapshot()).toMatchObject({ status: 'signed-in', currentTask: null })
    client.dispose()
  })
})
