import { decodeJwt, decodeProtectedHeader } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_A, startTestServer, type TestServer } from '../helpers/test-server.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import type { UserRecord } from '../../src/store/types.js'

let t: TestServer
let alice: UserRecord
beforeAll(async () => {
  t = await startTestServer()
  alice = await t.createUser('alice', 'correct horse battery', { roles: ['admin'] })
})
afterAll(async () => {
  await t.close()
})

describe('token endpoint basics', () => {
  it('redeems a code, refreshes, and gets tokens per audience', async () => {
    const first = await signInTokens(t, alice)
    expect(first.status).toBe(200)
    expect(first.body.token_type).toBe('Bearer')
    expect(first.body.refresh_token).toMatch(/^tsr_/)
    const at = decodeJwt(first.body.access_token)
    expect(decodeProtectedHeader(first.body.access_token).typ).toBe('at+jwt')
    expect(at.aud).toBe(t.url)
    expect(at.sub).toBe(alice.id)
    const r = await postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: 'web-app',
      resource: API_A,
    })
    expect(r.status).toBe(200)
    const at2 = decodeJwt(r.body.access_token)
    expect(at2.aud).toBe(API_A)
    expect(at2.scope).toBe('read')
    expect(at2.roles).toEqual(['admin'])
    expect(r.body.refresh_token).not.toBe(first.body.refresh_token)
    const ui = await fetch(t.url + '/userinfo', {
      headers: { authorization: `Bearer ${first.body.access_token}` },
    })
    expect(ui.status).toBe(200)
    expect(await ui.json()).toMatchObject({
      sub: alice.id,
      preferred_username: 'alice',
      email: 'alice@example.test',
    })
  })
})
