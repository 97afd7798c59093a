import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorizationParams,
  authorize,
  browserFetch,
  type CookieJar,
  expectErrorPage,
  redirectParams,
  rowCounts,
} from '../helpers/oauth-flow.js'
import { API_A, startTestServer, WEB_REDIRECT, type TestServer } from '../helpers/test-server.js'

let t: TestServer
let sso: CookieJar
beforeAll(async () => {
  t = await startTestServer()
  await t.createUser()
  sso = (await authorize(t)).cookies
})
afterAll(async () => {
  await t.close()
})

/** A valid request (for a signed-in browser, it would issue a code) with `change` applied. */
function query(change: (p: URLSearchParams) => void): string {
  const { params } = authorizationParams()
  change(params)
  return params.toString()
}

const rows: [string, (p: URLSearchParams) => void, string][] = [
  [
    'duplicate client_id',
    (p) => p.append('client_id', 'web-app'),
    'parameter client_id is included more than once',
  ],
  [
    'duplicate client_id, second one different',
    (p) => p.append('client_id', 'other-app'),
    'parameter client_id is included more than once',
  ],
  [
    'duplicate redirect_uri',
    (p) => p.append('redirect_uri', WEB_REDIRECT),
    'parameter redirect_uri is included more than once',
  ],
  [
    'duplicate state',
    (p) => p.append('state', 'other'),
    'parameter state is included more than once',
  ],
  [
    'duplicate scope',
    (p) => p.append('scope', 'openid'),
    'parameter scope is included more than once',
  ],
  [
    'duplicate response_type',
    (p) => p.append('response_type', 'code'),
    'parameter response_type is included more than once',
  ],
  [
    'duplicate code_challenge',
    (p) => p.append('code_challenge', 'b'.repeat(43)),
    'parameter code_challenge is included more than once',
  ],
  [
    'duplicate prompt',
    (p) => (p.append('prompt', 'none'), p.append('prompt', 'login')),
    'parameter prompt is included more than once',
  ],
  [
    'duplicate audience',
    (p) => (p.append('audience', API_A), p.append('audience', API_A)),
    'parameter audience is included more than once',
  ],
  [
    '17 resource values',
    (p) => Array.from({ length: 17 }, (_, i) => p.append('resource', `${API_A}/${i}`)),
    'at most 16 resource parameters are allowed',
  ],
  [
    'client_id of 129 characters',
    (p) => p.set('client_id', 'c'.repeat(129)),
    'parameter client_id is too long',
  ],
  [
    'state of 2049 characters',
    (p) => p.set('state', 's'.repeat(2049)),
    'parameter state is too long',
  ],
  [
    'redirect_uri of 2049 characters',
    (p) => p.set('redirect_uri', WEB_REDIRECT + '?' + 'x'.repeat(2049 - WEB_REDIRECT.length - 1)),
    'parameter redirect_uri is too long',
  ],
  [
    'login_hint of 257 characters',
    (p) => p.set('login_hint', 'u'.repeat(257)),
    'parameter login_hint is too long',
  ],
  [
    'max_age of 17 characters',
    (p) => p.set('max_age', '1'.repeat(17)),
    'parameter max_age is too long',
  ],
  [
    'request over 8192 characters in all',
    (p) => {
      p.set('state', 's'.repeat(2048))
      p.set('nonce', 'n'.repeat(2048))
      p.set('audience', 'a'.repeat(2048))
      p.append('resource', 'r'.repeat(2048))
    },
    'the authorization request is too large',
  ],
]

describe('malformed /authorize requests: 400 error page, nothing changes', () => {
  it.each(rows)('%s', async (_name, change, description) => {
    const before = rowCounts(t)
    const res = await browserFetch(sso, `${t.url}/authorize?${query(change)}`)
    const html = await expectErrorPage(res, 400, 'invalid_request')
    expect(html).toContain(description)
    expect(rowCounts(t)).toEqual(before)
  })

  it('the same rows as a POST form: 400 error page, nothing changes', async () => {
    for (const [, change, description] of rows) {
      const before = rowCounts(t)
      const form: Record<string, string[]> = {}
      for (const [k, v] of new URLSearchParams(query(change))) (form[k] ??= []).push(v)
      const res = await browserFetch(sso, `${t.url}/authorize`, { form })
      expect(await expectErrorPage(res, 400, 'invalid_request')).toContain(description)
      expect(rowCounts(t)).toEqual(before)
    }
  })

  it('a 20 KB query is refused before any handler (431), nothing changes', async () => {
    const before = rowCounts(t)
    const res = await browserFetch(
      sso,
      `${t.url}/authorize?${query((p) => p.set('x', 'y'.repeat(20_000)))}`,
    )
    expect(res.status).toBe(431)
    expect(rowCounts(t)).toEqual(before)
  })

  it('a 100 KB form is refused (413), nothing changes', async () => {
    const before = rowCounts(t)
    const res = await browserFetch(sso, `${t.url}/authorize`, {
      form: { client_id: 'web-app', x: 'y'.repeat(100_000) },
    })
    expect(res.status).toBe(413)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(rowCounts(t)).toEqual(before)
  })

  it('an empty request gets the missing client_id page', async () => {
    const html = await expectErrorPage(
      await browserFetch(sso, `${t.url}/authorize`),
      400,
      'invalid_request',
    )
    expect(html).toContain('missing required parameter client_id')
  })

  it('unrecognised parameters are ignored, even repeated (RFC 6749 3.1)', async () => {
    const res = await browserFetch(
      sso,
      `${t.url}/authorize?${query((p) => (p.append('foo', '1'), p.append('foo', '2')))}`,
    )
    expect(Object.keys(redirectParams(res))).toEqual(['code', 'state', 'iss'])
  })
})
