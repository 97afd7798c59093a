import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cookies } from '../../src/http/request-info.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

// fastify's `inject` (light-my-request) is what apps embedding Tessera test with. Its `cookie`
// dependency is pinned by an `overrides` entry in the root package.json to a version that runs on
// the Node floor Tessera declares (cookie 2 wants Node 22); these tests show inject still works
// with it, cookies included.
describe('fastify inject on the Node floor (the light-my-request cookie override)', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer({
      routes: [
        (app) => {
          app.get('/test/echo-cookies', (req) => Object.fromEntries(cookies(req)))
        },
      ],
    })
  })
  afterAll(() => t.close())

  it('the installed cookie module is the overridden one, whose engines accept Node 20.19', () => {
    const local = createRequire(import.meta.url)
    const pkg = createRequire(local.resolve('light-my-request'))('cookie/package.json') as {
      version: string
      engines: { node: string }
    }
    expect(pkg.version).toBe('1.1.1')
    expect(pkg.engines.node).toBe('>=18')
  })

  it('inject answers /healthz without a socket', async () => {
    const res = await t.server.app.inject({ method: 'GET', url: '/healthz' })
    expect(res.statusCode).toBe(200)
  })

  it('inject encodes the cookies option into the Cookie header the server reads', async () => {
    const res = await t.server.app.inject({
      method: 'GET',
      url: '/test/echo-cookies',
      cookies: { tessera_csrf: 'a b;c', other: 'x' },
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ tessera_csrf: 'a%20b%3Bc', other: 'x' })
  })

  it('inject parses the Set-Cookie of a real response', async () => {
    const res = await t.server.app.inject({
      method: 'GET',
      url:
        '/authorize?' +
        new URLSearchParams({
          response_type: 'code',
          client_id: 'web-app',
          redirect_uri: 'https://app.example.test/callback',
          scope: 'openid',
          state: 'state-1',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        }).toString(),
    })
    // /authorize sends the browser to the hosted sign-in page, which sets the CSRF cookie.
    expect(res.statusCode).toBe(303)
    const login = await t.server.app.inject({ method: 'GET', url: res.headers.location! })
    expect(login.statusCode).toBe(200)
    const csrf = login.cookies.find((c) => c.name === 'tessera_csrf')
    expect(csrf).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' })
    expect(csrf!.value).toMatch(/^[\w-]{20,}$/)
  })
})
