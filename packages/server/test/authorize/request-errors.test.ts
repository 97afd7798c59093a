import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  authorizationParams,
  authorize,
  CookieJar,
  isLoginRedirect,
  openLogin,
  redirectParams,
  rowCounts,
  startAuthorize,
  submitLogin,
} from '../helpers/oauth-flow.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  defaultClients,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'

let t: TestServer
let sso: CookieJar
beforeAll(async () => {
  t = await startTestServer({
    clients: [
      ...defaultClients,
      {
        id: 'machine',
        secret: CONFIDENTIAL_SECRET,
        grantTypes: ['client_credentials'],
        redirectUris: ['https://machine.example.test/cb'],
        audiences: [API_A],
      },
    ],
  })
  await t.createUser()
  sso = (await authorize(t)).cookies
})
afterAll(async () => {
  await t.close()
})

type Row = {
  name: string
  set?: Record<string, string>
  drop?: string[]
  clientId?: string
  redirectUri?: string
  error: string
  description: string
}

const CHALLENGE_43 = 'a'.repeat(43)
const rows: Row[] = [
  // PKCE at the authorization endpoint.
  {
    name: 'PKCE-01 code_challenge missing',
    drop: ['code_challenge'],
    error: 'invalid_request',
    description: 'code_challenge is required (PKCE with S256)',
  },
  {
    name: 'PKCE-01 code_challenge empty',
    set: { code_challenge: '' },
    error: 'invalid_request',
    description: 'code_challenge is required (PKCE with S256)',
  },
  {
    name: 'PKCE-02 code_challenge_method plain',
    set: { code_challenge_method: 'plain' },
    error: 'invalid_request',
    description: 'code_challenge_method plain is not allowed; use S256',
  },
  {
    name: 'PKCE-02 code_challenge_method omitted',
    drop: ['code_challenge_method'],
    error: 'invalid_request',
    description: 'code_challenge_method is required and must be S256',
  },
  {
    name: 'PKCE-02 code_challenge_method s256 (case)',
    set: { code_challenge_method: 's256' },
    error: 'invalid_request',
    description: 'code_challenge_method must be S256',
  },
  {
    name: 'PKCE-02 code_challenge_method S512',
    set: { code_challenge_method: 'S512' },
    error: 'invalid_request',
    description: 'code_challenge_method must be S256',
  },
  {
    name: 'PKCE-06 code_challenge of 42 characters',
    set: { code_challenge: 'a'.repeat(42) },
    error: 'invalid_request',
    description: 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
  },
  {
    name: 'PKCE-06 code_challenge of 129 characters',
    set: { code_challenge: 'a'.repeat(129) },
    error: 'invalid_request',
    description: 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
  },
  {
    name: 'PKCE-06 code_challenge with +',
    set: { code_challenge: '+' + 'a'.repeat(42) },
    error: 'invalid_request',
    description: 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
  },
  {
    name: 'PKCE-06 code_challenge with /',
    set: { code_challenge: '/' + 'a'.repeat(42) },
    error: 'invalid_request',
    description: 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
  },
  {
    name: 'PKCE-06 code_challenge with = padding',
    set: { code_challenge: 'a'.repeat(43) + '=' },
    error: 'invalid_request',
    description: 'code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~',
  },
  // RDR-07: no implicit or hybrid flow; no token in the front channel.
  {
    name: 'RDR-07 response_type=token',
    set: { response_type: 'token' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'RDR-07 response_type=id_token token',
    set: { response_type: 'id_token token' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'RDR-07 response_type=id_token',
    set: { response_type: 'id_token' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'RDR-07 response_type=code id_token',
    set: { response_type: 'code id_token' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'RDR-07 response_type=code token',
    set: { response_type: 'code token' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'RDR-07 response_type=none',
    set: { response_type: 'none' },
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'response_type missing',
    drop: ['response_type'],
    error: 'invalid_request',
    description: 'missing required parameter response_type',
  },
  {
    name: 'response_mode=fragment',
    set: { response_mode: 'fragment' },
    error: 'invalid_request',
    description: 'only response_mode=query is supported',
  },
  {
    name: 'response_mode=form_post',
    set: { response_mode: 'form_post' },
    error: 'invalid_request',
    description: 'only response_mode=query is supported',
  },
  {
    name: 'client without the authorization_code grant',
    clientId: 'machine',
    redirectUri: 'https://machine.example.test/cb',
    set: { scope: 'openid' },
    error: 'unauthorized_client',
    description: 'the client is not allowed to use the authorization code grant',
  },
  // Scope.
  {
    name: 'scope missing',
    drop: ['scope'],
    error: 'invalid_scope',
    description: 'scope is required',
  },
  {
    name: 'scope only spaces',
    set: { scope: '   ' },
    error: 'invalid_scope',
    description: 'scope is required',
  },
  {
    name: 'scope beyond the client',
    set: { scope: 'openid admin' },
    error: 'invalid_scope',
    description: 'scope admin is not allowed for this client',
  },
  {
    name: "another API's scope the client lacks",
    clientId: 'other-app',
    redirectUri: 'https://other.example.test/callback',
    set: { scope: 'openid orders' },
    error: 'invalid_scope',
    description: 'scope orders is not allowed for this client',
  },
  {
    name: 'scope with a quote',
    set: { scope: 'openid "read"' },
    error: 'invalid_scope',
    description: 'scope contains a malformed value',
  },
  // Resources (RFC 8707) and the audience alias.
  {
    name: 'resource not configured',
    set: { resource: 'https://api-c.example.test' },
    error: 'invalid_target',
    description: 'resource https://api-c.example.test is not available to this client',
  },
  {
    name: "resource of an API the client can't use",
    clientId: 'other-app',
    redirectUri: 'https://other.example.test/callback',
    set: { resource: API_B },
    error: 'invalid_target',
    description: `resource ${API_B} is not available to this client`,
  },
  {
    name: 'resource relative',
    set: { resource: 'api-a' },
    error: 'invalid_target',
    description: 'resource must be an absolute URI without a fragment',
  },
  {
    name: 'resource with a fragment',
    set: { resource: API_A + '#x' },
    error: 'invalid_target',
    description: 'resource must be an absolute URI without a fragment',
  },
  {
    name: 'audience not configured',
    set: { audience: 'https://api-c.example.test' },
    error: 'invalid_target',
    description: 'resource https://api-c.example.test is not available to this client',
  },
  // Prompt, max_age, request objects.
  {
    name: 'prompt unknown',
    set: { prompt: 'bogus' },
    error: 'invalid_request',
    description: 'prompt contains an unsupported value',
  },
  {
    name: 'prompt none with login',
    set: { prompt: 'none login' },
    error: 'invalid_request',
    description: 'prompt=none cannot be combined with other values',
  },
  {
    name: 'max_age not a number',
    set: { max_age: 'abc' },
    error: 'invalid_request',
    description: 'max_age must be a whole number of seconds',
  },
  {
    name: 'max_age negative',
    set: { max_age: '-1' },
    error: 'invalid_request',
    description: 'max_age must be a whole number of seconds',
  },
  {
    name: 'max_age fractional',
    set: { max_age: '1.5' },
    error: 'invalid_request',
    description: 'max_age must be a whole number of seconds',
  },
  {
    name: 'request object',
    set: { request: 'eyJhbGciOiJub25lIn0.e30.' },
    error: 'invalid_request',
    description: 'request objects (request, request_uri) are not supported',
  },
  {
    name: 'request_uri',
    set: { request_uri: 'https://evil.example/req' },
    error: 'invalid_request',
    description: 'request objects (request, request_uri) are not supported',
  },
  // The first failing check of the table is the one reported.
  {
    name: 'table order: response_type before PKCE and scope',
    set: { response_type: 'token', scope: 'admin' },
    drop: ['code_challenge'],
    error: 'unsupported_response_type',
    description: 'only response_type=code is supported',
  },
  {
    name: 'table order: PKCE before scope',
    set: { scope: 'admin', code_challenge_method: 'plain' },
    error: 'invalid_request',
    description: 'code_challenge_method plain is not allowed; use S256',
  },
]

describe('request errors go to the trusted redirect URI with error, description, state and iss', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const { params, redirectUri } = authorizationParams({
      clientId: row.clientId ?? 'web-app',
      redirectUri: row.redirectUri ?? WEB_REDIRECT,
      state: 'st-1',
    })
    for (const [k, v] of Object.entries(row.set ?? {})) params.set(k, v)
    for (const k of row.drop ?? []) params.delete(k)
    const before = rowCounts(t)
    const res = await startAuthorize(t, params, sso)
    expect(res.status).toBe(303)
    const loc = new URL(res.headers.get('location')!)
    expect(loc.origin + loc.pathname).toBe(redirectUri)
    expect(Object.fromEntries(loc.searchParams)).toEqual({
      error: row.error,
      error_description: row.description,
      state: 'st-1',
      iss: t.url,
    })
    const after = rowCounts(t)
    expect(after.authorization_codes).toBe(before.authorization_codes)
    expect(after.sessions).toBe(before.sessions)
  })

  it('PKCE-06 boundary: 43 and 128 characters of the full charset are accepted', async () => {
    for (const challenge of [CHALLENGE_43, 'Az09-._~'.repeat(16)]) {
      const { params } = authorizationParams({ extra: { code_challenge: challenge } })
      const res = await startAuthorize(t, params, sso)
      expect(Object.keys(redirectParams(res))).toEqual(['code', 'state', 'iss'])
    }
  })

  it('RDR-07 a refused response_type=token carries no token of any kind', async () => {
    const { params } = authorizationParams({ extra: { response_type: 'token' } })
    const res = await startAuthorize(t, params, sso)
    const loc = res.headers.get('location')!
    for (const k of ['access_token', 'id_token', 'token', 'code', 'refresh_token']) {
      expect(new URL(loc).searchParams.has(k)).toBe(false)
    }
    expect(loc).not.toContain('#')
  })
})

describe('RDR-06 no redirect of an error for a user who has not authenticated', () => {
  it('a bad scope without a session shows the sign-in form first, then redirects the error', async () => {
    const jar = new CookieJar()
    const { params } = authorizationParams({ scope: 'openid admin', state: 'st-6' })
    const before = rowCounts(t)
    const res = await startAuthorize(t, params, jar)
    expect(res.status).toBe(303)
    expect(isLoginRedirect(t, res)).toBe(true)
    const login = await openLogin(t, res, jar)
    expect(login.res.status).toBe(200)
    const done = await submitLogin(t, login.fields, jar, 'alice', 'correct horse battery')
    expect(done.status).toBe(303)
    expect(redirectParams(done)).toEqual({
      error: 'invalid_scope',
      error_description: 'scope admin is not allowed for this client',
      state: 'st-6',
      iss: t.url,
    })
    expect(rowCounts(t).authorization_codes).toBe(before.authorization_codes)
  })

  it('an unsupported response_type without a session shows the sign-in form, not a redirect', async () => {
    const { params } = authorizationParams({
      clientId: 'other-app',
      redirectUri: 'https://other.example.test/callback',
      extra: { response_type: 'token' },
    })
    const res = await startAuthorize(t, params, new CookieJar())
    expect(isLoginRedirect(t, res)).toBe(true)
  })

  it('prompt=none without a session redirects login_required at once (that is what it asks)', async () => {
    const { params } = authorizationParams({ prompt: 'none', state: 'st-n', scope: 'openid admin' })
    const res = await startAuthorize(t, params, new CookieJar())
    expect(redirectParams(res)).toEqual({
      error: 'login_required',
      error_description: 'the user is not signed in, or must sign in again',
      state: 'st-n',
      iss: t.url,
    })
  })
})

describe('RDR-09 iss in every authorization response', () => {
  it('success carries exactly code, state and iss, and iss is the issuer', async () => {
    const a = await authorize(t, { jar: sso, state: 'st-9' })
    expect([...a.location.searchParams.keys()]).toEqual(['code', 'state', 'iss'])
    expect(a.iss).toBe(t.url)
    expect(a.state).toBe('st-9')
  })

  it('a success without state carries code and iss only', async () => {
    const a = await authorize(t, { jar: sso, state: null })
    expect([...a.location.searchParams.keys()]).toEqual(['code', 'iss'])
  })

  it('metadata advertises authorization_response_iss_parameter_supported', async () => {
    const doc = (await (await fetch(t.url + '/.well-known/openid-configuration')).json()) as Record<
      string,
      unknown
    >
    expect(doc.authorization_response_iss_parameter_supported).toBe(true)
    expect(doc.authorization_endpoint).toBe(t.url + '/authorize')
  })
})
