/**
 * DPoP end to end: a real Tessera server binds an API access token to the client's key at the
 * code exchange (RFC 9449 5), and an API built with `withAuth` accepts it only with the DPoP
 * scheme and a proof of that key for the request. Both sides on loopback, real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tokenProof } from '../../../server/test/helpers/dpop.js'
import { mintCode, postForm, codeForm } from '../../../server/test/helpers/grants.js'
import {
  API_A,
  startTestServer,
  type TestServer,
} from '../../../server/test/helpers/test-server.js'
import { createVerifier } from '../../src/verifier/create-verifier.js'
import { startFetchHandler, type RunningApp } from '../helpers/apps.js'
import { dpopKey, makeProof, rawGet, type DpopKey } from '../helpers/dpop.js'

let t: TestServer
let api: RunningApp
let key: DpopKey
let accessToken: string

beforeAll(async () => {
  t = await startTestServer()
  // The verifier reads the real time; the server's fake clock must agree with it.
  t.clock.set(Date.now())
  const user = await t.createUser()
  key = await dpopKey('ES256')
  const c = await mintCode(t, user, { scope: 'openid offline_access read' })
  const res = await postForm(
    `${t.url}/oauth/token`,
    {
      ...codeForm(c),
      resource: API_A,
    },
    { dpop: tokenProof(t, key) },
  )
  expect(res.status, JSON.stringify(res.body)).toBe(200)
  expect(res.body.token_type).toBe('DPoP')
  accessToken = res.body.access_token as string
  api = await startFetchHandler(createVerifier({ issuer: t.url, audience: API_A }))
})
afterAll(async () => {
  await api.close()
  await t.close()
})

const proof = (k: DpopKey, path = '/api/me') =>
  makeProof(k, {
    htu: api.url + path,
    iat: Math.floor(Date.now() / 1000),
    accessToken,
  })

describe('a DPoP-bound token from Tessera at an API', () => {
  it('passes with the DPoP scheme and a proof of the client key', async () => {
    const r = await rawGet(`${api.url}/api/me`, {
      authorization: `DPoP ${accessToken}`,
      dpop: proof(key),
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.sub).toMatch(/^usr_/)
  })

  it('is refused as a bearer token, and with a proof of another key', async () => {
    const bearer = await rawGet(`${api.url}/api/me`, { authorization: `Bearer ${accessToken}` })
    expect(bearer.status).toBe(401)
    expect(bearer.body.error_description).toBe(
      'the access token is DPoP-bound: send it with the DPoP scheme and a proof',
    )
    const other = await dpopKey('ES256')
    const foreign = await rawGet(`${api.url}/api/me`, {
      authorization: `DPoP ${accessToken}`,
      dpop: proof(other),
    })
    expect(foreign.status).toBe(401)
    expect(foreign.body).toEqual({
      error: 'invalid_dpop_proof',
      error_description: 'the DPoP proof key is not the key the access token is bound to',
    })
  })
})
