import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose'
import { beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, mintCode, postForm, signInTokens, jsonOrText } from '../helpers/grants.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  TEST_SECRET,
  type TestServer,
} from '../helpers/test-server.js'
import {
  confidentialAuth,
  dbCounts,
  DESCRIPTION_CHARSET,
  expectOAuthError,
  type FormResponse,
  jwksOf,
  POST_SECRET,
  refresh,
  SPECIAL_SECRET,
  useTokenServer,
  tokenEndpoint,
  userinfo,
} from './fixtures.js'

let t: TestServer
let alice: UserRecord
useTokenServer((s) => ({ t, alice } = s))

type Minted = Awaited<ReturnType<typeof mintCode>>

function codeForm(c: Minted, over: Record<string, string | string[]> = {}) {
  return {
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: c.redirectUri,
    ...over,
  }
}

/** Sends a raw body with any content type. */
async function raw(
  body: string | undefined,
  contentType: string | undefined,
  path = '/oauth/token',
): Promise<FormResponse> {
  const headers: Record<string, string> = {}
  if (contentType !== undefined) headers['content-type'] = contentType
  const res = await fetch(t.url + path, { method: 'POST', headers, body })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

describe('token endpoint: grant types, caching, errors', () => {
  it.each([
    'password',
    'implicit',
    'token',
    'client_credentials_x',
    'urn:ietf:params:oauth:grant-type:device_code',
    'urn:ietf:params:oauth:grant-type:jwt-bearer',
    'urn:ietf:params:oauth:grant-type:token-exchange',
    '__proto__',
    'constructor',
    'toString',
  ])('RDR-08 grant_type=%s is unsupported_grant_type', async (grantType) => {
    const before = dbCounts(t)
    const r = await postForm(tokenEndpoint(t), {
      grant_type: grantType,
      username: 'alice',
      password: 'correct horse battery',
      client_id: 'web-app',
    })
    expectOAuthError(
      r,
      400,
      'unsupported_grant_type',
      `grant_type ${grantType.slice(0, 40)} is not supported`,
    )
    expect(dbCounts(t)).toEqual(before)
  })

  it('RDR-08 a grant_type with unsafe characters is echoed only in the RFC 6749 charset', async () => {
    const r = await postForm(tokenEndpoint(t), {
      grant_type: 'pass"word\\é\n',
      client_id: 'web-app',
    })
    expectOAuthError(r, 400, 'unsupported_grant_type', 'grant_type pass?word??? is not supported')
  })

  it('a grant the client is not registered for is unauthorized_client', async () => {
    const cases: [Record<string, string>, Record<string, string>, string][] = [
      [
        { grant_type: 'client_credentials', client_id: 'web-app' },
        {},
        'this client may not use client_credentials',
      ],
      [
        { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'code-only-app' },
        {},
        'this client may not use refresh_token',
      ],
    ]
    for (const [form, headers, desc] of cases) {
      expectOAuthError(
        await postForm(tokenEndpoint(t), form, headers),
        400,
        'unauthorized_client',
        desc,
      )
    }
  })

  it('TOK-01 every token response carries Cache-Control: no-store (and Pragma: no-cache)', async () => {
    const responses: Response[] = []
    const c = await mintCode(t, alice)
    const send = (form: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(tokenEndpoint(t), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form),
      })
    const code = await send({ ...codeForm(c), client_id: 'web-app' })
    responses.push(code)
    const body = (await code.clone().json()) as { refresh_token: string }
    responses.push(
      await send({
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        client_id: 'web-app',
      }),
    )
    responses.push(
      await send({ grant_type: 'client_credentials', resource: API_A }, confidentialAuth()),
    )
    for (const res of responses) {
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('pragma')).toBe('no-cache')
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const json = (await res.json()) as Record<string, unknown>
      expect(json.token_type).toBe('Bearer')
      expect(json.expires_in).toEqual(expect.any(Number))
    }
  })

  it('TOK-03/TOK-01 every token-endpoint error is RFC 6749 JSON, no-store, with a safe description', async () => {
    const c = await mintCode(t, alice)
    const sends: Promise<FormResponse>[] = [
      postForm(tokenEndpoint(t), {}),
      postForm(tokenEndpoint(t), { grant_type: 'password' }),
      postForm(tokenEndpoint(t), { grant_type: 'authorization_code' }),
      postForm(tokenEndpoint(t), { grant_type: 'authorization_code', client_id: 'nobody' }),
      postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', code: 'nope' }),
      postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', code_verifier: 'é' }),
      postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', scope: 'openid' }),
      postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', resource: 'x' }),
      postForm(tokenEndpoint(t), { ...codeForm(c), client_id: ['web-app', 'web-app'] }),
      postForm(tokenEndpoint(t), codeForm(c), basicAuth('confidential-app', 'wrong')),
      postForm(tokenEndpoint(t), { grant_type: 'refresh_token', client_id: 'web-app' }),
      postForm(tokenEndpoint(t), {
        grant_type: 'refresh_token',
        client_id: 'web-app',
        refresh_token: 'tsr_"\\\u0001é',
      }),
      postForm(tokenEndpoint(t), {
        grant_type: 'refresh_token',
        client_id: 'web-app',
        refresh_token: 'x',
        scope: 'a"b',
      }),
      postForm(`${tokenEndpoint(t)}?refresh_token=x`, { grant_type: 'refresh_token' }),
      raw('{"grant_type":"password"}', 'application/json'),
      raw('{', 'application/json'),
      raw('grant_type=password', 'text/plain'),
      raw('a'.repeat(1024 * 1024), 'application/x-www-form-urlencoded'),
    ]
    const results = await Promise.all(sends)
    const seen = new Set<string>()
    for (const r of results) {
      expect(r.status === 400 || r.status === 401 || r.status === 413).toBe(true)
      if (r.body.error === 'invalid_client') expect(r.status).toBe(401)
      else if (r.status !== 413) expect(r.status).toBe(400)
      expect(r.headers.get('cache-control')).toBe('no-store')
      expect(r.headers.get('content-type')).toMatch(/^application\/json/)
      expect(Object.keys(r.body).sort()).toEqual(['error', 'error_description'])
      expect(r.body.error).toMatch(
        /^(invalid_request|invalid_client|invalid_grant|unauthorized_client|unsupported_grant_type|invalid_scope|invalid_target)$/,
      )
      expect(r.body.error_description).toMatch(DESCRIPTION_CHARSET)
      expect(r.body.error_description.length).toBeGreaterThan(0)
      seen.add(r.body.error)
    }
    expect([...seen].sort()).toEqual([
      'invalid_client',
      'invalid_grant',
      'invalid_request',
      'invalid_target',
      'unsupported_grant_type',
    ])
    // Nothing in that barrage consumed the code.
    expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
  })

  const duplicates: [string, Record<string, string | string[]>][] = [
    ['grant_type', { grant_type: ['authorization_code', 'authorization_code'] }],
    ['code', {}],
    ['code_verifier', {}],
    ['redirect_uri', {}],
    ['client_id', {}],
    ['audience', { audience: [API_A, API_A] }],
  ]

  it.each(duplicates)(
    'TOK-04 %s given twice is invalid_request and writes nothing',
    async (name, over) => {
      const c = await mintCode(t, alice)
      const form: Record<string, string | string[]> = { ...codeForm(c), client_id: 'web-app' }
      const value = form[name]
      form[name] = over[name] ?? [value as string, value as string]
      const before = dbCounts(t)
      expectOAuthError(
        await postForm(tokenEndpoint(t), form),
        400,
        'invalid_request',
        `parameter ${name} is included more than once`,
      )
      expect(dbCounts(t)).toEqual(before)
      expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
    },
  )

  it('TOK-04 duplicate refresh_token, scope and client_secret are invalid_request', async () => {
    const s = await signInTokens(t, alice)
    const rt = s.body.refresh_token as string
    const before = dbCounts(t)
    const cases: [Record<string, string | string[]>, Record<string, string>, string][] = [
      [{ refresh_token: [rt, rt], client_id: 'web-app' }, {}, 'refresh_token'],
      [{ refresh_token: rt, client_id: 'web-app', scope: ['openid', 'openid'] }, {}, 'scope'],
      [
        { refresh_token: rt, client_id: 'post-app', client_secret: [POST_SECRET, POST_SECRET] },
        {},
        'client_secret',
      ],
    ]
    for (const [form, headers, name] of cases) {
      expectOAuthError(
        await postForm(tokenEndpoint(t), { grant_type: 'refresh_token', ...form }, headers),
        400,
        'invalid_request',
        `parameter ${name} is included more than once`,
      )
    }
    expect(dbCounts(t)).toEqual(before)
  })
})

describe('audiences (one per access token)', () => {
  it('without resource the access token is for the issuer, with the OpenID part of the grant', async () => {
    const r = await signInTokens(t, alice, { scope: 'openid profile email offline_access read' })
    expect(r.body.scope).toBe('openid profile email offline_access')
    const at = decodeJwt(r.body.access_token)
    expect(at.aud).toBe(t.url)
    expect(at.scope).toBe('openid profile email offline_access')
    expect((await userinfo(t, r.body.access_token)).status).toBe(200)
  })

  it('TOK-06 a token minted for API A is rejected where API B is expected (jose, JWKS)', async () => {
    const r = await signInTokens(t, alice, { resource: API_A })
    expect(r.status).toBe(200)
    const token = r.body.access_token as string
    const jwks = jwksOf(t)
    const opts = { issuer: t.url, typ: 'at+jwt', currentDate: new Date(t.clock.now()) }
    const ok = await jwtVerify(token, jwks, { ...opts, audience: API_A })
    expect(ok.payload.aud).toBe(API_A)
    expect(ok.payload.scope).toBe('read')
    const err = await jwtVerify(token, jwks, { ...opts, audience: API_B }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(joseErrors.JWTClaimValidationFailed)
    expect((err as joseErrors.JWTClaimValidationFailed).claim).toBe('aud')
    // Nor does it work where the issuer is the audience (userinfo).
    const ui = await userinfo(t, token)
    expect(ui.status).toBe(401)
    // And an issuer token is no API token.
    const issuerToken = (await signInTokens(t, alice)).body.access_token as string
    await expect(jwtVerify(issuerToken, jwks, { ...opts, audience: API_A })).rejects.toThrow(
      joseErrors.JWTClaimValidationFailed,
    )
  })

  it('TOK-07 the aud is exactly the one requested and allowed resource, also with the audience alias', async () => {
    const viaResource = await signInTokens(t, alice, { resource: API_B, scope: 'openid orders' })
    expect(decodeJwt(viaResource.body.access_token).aud).toBe(API_B)
    expect(viaResource.body.scope).toBe('orders')
    const c = await mintCode(t, alice)
    const viaAlias = await postForm(tokenEndpoint(t), {
      ...codeForm(c),
      client_id: 'web-app',
      audience: API_A,
    })
    expect(viaAlias.status).toBe(200)
    expect(decodeJwt(viaAlias.body.access_token).aud).toBe(API_A)
    // resource and audience naming the same API count once.
    const c2 = await mintCode(t, alice)
    const both = await postForm(tokenEndpoint(t), {
      ...codeForm(c2),
      client_id: 'web-app',
      resource: API_A,
      audience: API_A,
    })
    expect(decodeJwt(both.body.access_token).aud).toBe(API_A)
    // resource=issuer is the issuer token.
    const c3 = await mintCode(t, alice)
    const issuer = await postForm(tokenEndpoint(t), {
      ...codeForm(c3),
      client_id: 'web-app',
      resource: t.url,
    })
    expect(decodeJwt(issuer.body.access_token).aud).toBe(t.url)
  })

  const targets: [string, Record<string, string | string[]>, string][] = [
    [
      'two resources',
      { resource: [API_A, API_B] },
      'an access token is for one resource; request one resource at a time',
    ],
    [
      'resource and a different audience',
      { resource: API_A, audience: API_B },
      'an access token is for one resource; request one resource at a time',
    ],
    [
      'an unknown resource',
      { resource: 'https://unknown.example.test' },
      'the resource is not allowed for this grant',
    ],
    [
      'a resource outside the grant',
      { resource: API_B },
      'the resource is not allowed for this grant',
    ],
    ['a relative resource', { resource: '/api' }, 'resource must be an absolute URI'],
    [
      'a resource with a fragment',
      { resource: `${API_A}#x` },
      'resource must not contain a fragment',
    ],
  ]

  it.each(targets)('TOK-07 %s is invalid_target and burns nothing', async (_name, extra, desc) => {
    const c = await mintCode(t, alice, { resources: [API_A] })
    const before = dbCounts(t)
    expectOAuthError(
      await postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', ...extra }),
      400,
      'invalid_target',
      desc,
    )
    expect(dbCounts(t)).toEqual(before)
    expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
  })

  it('TOK-07 one signing key across audiences still gives each token a single, distinct aud', async () => {
    const r = await signInTokens(t, alice)
    const a = await refresh(t, r.body.refresh_token, { resource: API_A })
    const b = await refresh(t, a.body.refresh_token, { resource: API_B })
    const tokens = [r.body.access_token, a.body.access_token, b.body.access_token] as string[]
    const kids = new Set(tokens.map((x) => decodeProtectedHeader(x).kid))
    expect(kids.size).toBe(1)
    const auds = tokens.map((x) => decodeJwt(x).aud)
    expect(auds).toEqual([t.url, API_A, API_B])
    for (const aud of auds) expect(typeof aud).toBe('string')
    expect(new Set(tokens.map((x) => decodeJwt(x).jti)).size).toBe(3)
  })

  it('TOK-08 a client_id shaped like a user subject is refused by the configuration', () => {
    const base = {
      issuer: 'https://auth.example.test',
      secret: TEST_SECRET,
      apis: [],
    }
    let err: unknown
    try {
      resolveConfig({ ...base, clients: [{ id: alice.id, redirectUris: ['https://x.test/cb'] }] })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).setting).toBe('clients[0].id')
    expect((err as ConfigError).message).toMatch(/usr_/)
    expect((err as ConfigError).message).toBe(
      'invalid configuration: clients[0].id: must not start with usr_ (reserved for user subjects)',
    )
    expect(alice.id).toMatch(/^usr_/)
  })

  it('TOK-08 a client_credentials token (sub = client) is distinguishable and never a user token', async () => {
    const r = await postForm(
      tokenEndpoint(t),
      { grant_type: 'client_credentials', resource: API_A, scope: 'read' },
      confidentialAuth(),
    )
    expect(r.status).toBe(200)
    expect(r.body.refresh_token).toBeUndefined()
    expect(r.body.id_token).toBeUndefined()
    const at = decodeJwt(r.body.access_token)
    expect(at).toMatchObject({ sub: 'confidential-app', client_id: 'confidential-app', aud: API_A })
    expect(at.sid).toBeUndefined()
    expect((await userinfo(t, r.body.access_token)).status).toBe(401)
    expectOAuthError(
      await postForm(
        tokenEndpoint(t),
        { grant_type: 'client_credentials', resource: t.url },
        confidentialAuth(),
      ),
      400,
      'invalid_target',
      'client_credentials tokens are for APIs, not for the issuer',
    )
  })
})

describe('client authentication at the token endpoint', () => {
  const WWW_BASIC = 'Basic realm="tessera", charset="UTF-8"'
  const rows: {
    name: string
    client: string
    body: Record<string, string>
    headers: Record<string, string>
    status: number
    error?: string
    desc?: string
    wwwAuth?: string | null
  }[] = [
    {
      name: 'basic with form-urlencoded credentials (: + / % space é in the secret)',
      client: 'special-app',
      body: {},
      headers: basicAuth('special-app', SPECIAL_SECRET),
      status: 200,
    },
    {
      name: 'basic for a basic client',
      client: 'confidential-app',
      body: {},
      headers: basicAuth('confidential-app', CONFIDENTIAL_SECRET),
      status: 200,
    },
    {
      name: 'basic plus a matching client_id in the body',
      client: 'confidential-app',
      body: { client_id: 'confidential-app' },
      headers: basicAuth('confidential-app', CONFIDENTIAL_SECRET),
      status: 200,
    },
    {
      name: 'post for a post client',
      client: 'post-app',
      body: { client_id: 'post-app', client_secret: POST_SECRET },
      headers: {},
      status: 200,
    },
    {
      name: 'none for a public client',
      client: 'web-app',
      body: { client_id: 'web-app' },
      headers: {},
      status: 200,
    },
    {
      name: 'basic and post at once',
      client: 'confidential-app',
      body: { client_secret: CONFIDENTIAL_SECRET },
      headers: basicAuth('confidential-app', CONFIDENTIAL_SECRET),
      status: 400,
      error: 'invalid_request',
      desc: 'use only one client authentication method',
      wwwAuth: null,
    },
    {
      name: 'basic plus a different client_id in the body',
      client: 'confidential-app',
      body: { client_id: 'web-app' },
      headers: basicAuth('confidential-app', CONFIDENTIAL_SECRET),
      status: 400,
      error: 'invalid_request',
      desc: 'client_id does not match the authenticated client',
      wwwAuth: null,
    },
    {
      name: 'none for a confidential client',
      client: 'confidential-app',
      body: { client_id: 'confidential-app' },
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication is required',
      wwwAuth: null,
    },
    {
      name: 'no client at all',
      client: 'web-app',
      body: {},
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication is required',
      wwwAuth: null,
    },
    {
      name: 'post for a basic client (wrong method)',
      client: 'confidential-app',
      body: { client_id: 'confidential-app', client_secret: CONFIDENTIAL_SECRET },
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'this client authenticates with client_secret_basic',
      wwwAuth: null,
    },
    {
      name: 'basic for a post client (wrong method)',
      client: 'post-app',
      body: {},
      headers: basicAuth('post-app', POST_SECRET),
      status: 401,
      error: 'invalid_client',
      desc: 'this client authenticates with client_secret_post',
      wwwAuth: WWW_BASIC,
    },
    {
      name: 'a secret for a public client',
      client: 'web-app',
      body: { client_id: 'web-app', client_secret: 'x'.repeat(40) },
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'this client does not authenticate with a secret',
      wwwAuth: null,
    },
    {
      name: 'basic for a public client',
      client: 'web-app',
      body: {},
      headers: basicAuth('web-app', 'x'.repeat(40)),
      status: 401,
      error: 'invalid_client',
      desc: 'this client does not authenticate with a secret',
      wwwAuth: WWW_BASIC,
    },
    {
      name: 'basic with a wrong secret',
      client: 'confidential-app',
      body: {},
      headers: basicAuth('confidential-app', CONFIDENTIAL_SECRET + 'x'),
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication failed',
      wwwAuth: WWW_BASIC,
    },
    {
      name: 'basic with the secret not form-urlencoded',
      client: 'special-app',
      body: {},
      headers: {
        authorization: `Basic ${Buffer.from(`special-app:${SPECIAL_SECRET.replace('%25', '%')}`).toString('base64')}`,
      },
      status: 401,
      error: 'invalid_client',
      desc: 'malformed Basic credentials',
      wwwAuth: WWW_BASIC,
    },
    {
      name: 'post with a wrong secret',
      client: 'post-app',
      body: { client_id: 'post-app', client_secret: POST_SECRET.toUpperCase() },
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication failed',
      wwwAuth: null,
    },
    {
      name: 'basic for an unknown client',
      client: 'web-app',
      body: {},
      headers: basicAuth('nobody', CONFIDENTIAL_SECRET),
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication failed',
      wwwAuth: WWW_BASIC,
    },
    {
      name: 'an unknown client_id in the body',
      client: 'web-app',
      body: { client_id: 'nobody' },
      headers: {},
      status: 401,
      error: 'invalid_client',
      desc: 'client authentication failed',
      wwwAuth: null,
    },
    {
      name: 'basic without a colon',
      client: 'confidential-app',
      body: {},
      headers: { authorization: `Basic ${Buffer.from('confidential-app').toString('base64')}` },
      status: 401,
      error: 'invalid_client',
      desc: 'malformed Basic credentials',
      wwwAuth: WWW_BASIC,
    },
  ]

  // RFC 6749 5.2: a client that tried the Authorization header gets 401 with WWW-Authenticate,
  // malformed Basic credentials included.
  for (const row of rows) {
    it(`client authentication: ${row.name} -> ${row.status}`, async () => {
      const c = await mintCode(t, alice, { clientId: row.client })
      const before = dbCounts(t)
      const r = await postForm(tokenEndpoint(t), { ...codeForm(c), ...row.body }, row.headers)
      if (row.status === 200) {
        expect(r.status).toBe(200)
        expect(r.body.access_token).toEqual(expect.any(String))
        expect(dbCounts(t).sessions).toBe(before.sessions + 1)
        return
      }
      expectOAuthError(r, row.status, row.error!, row.desc!)
      expect(r.headers.get('www-authenticate')).toBe(row.wwwAuth)
      expect(dbCounts(t)).toEqual(before)
      expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
    })
  }
})

describe('bad input: each a 4xx in the RFC 6749 shape that changes nothing', () => {
  let c: Minted
  beforeAll(async () => {
    c = await mintCode(t, alice)
  })
  const valid = () => new URLSearchParams({ ...codeForm(c), client_id: 'web-app' }).toString()

  const rows: {
    name: string
    send: () => Promise<FormResponse>
    status: number
    error: string
    desc: string
  }[] = [
    {
      name: 'text/plain body',
      send: () => raw(valid(), 'text/plain'),
      status: 400,
      error: 'invalid_request',
      desc: 'unsupported content type; use application/x-www-form-urlencoded',
    },
    {
      name: 'multipart/form-data body',
      send: () => raw(valid(), 'multipart/form-data; boundary=x'),
      status: 400,
      error: 'invalid_request',
      desc: 'unsupported content type; use application/x-www-form-urlencoded',
    },
    {
      name: 'a JSON body',
      send: () => raw(JSON.stringify({ ...codeForm(c), client_id: 'web-app' }), 'application/json'),
      status: 400,
      error: 'invalid_request',
      desc: 'the request body must be application/x-www-form-urlencoded',
    },
    {
      name: 'a broken JSON body',
      send: () => raw('{"grant_type":', 'application/json'),
      status: 400,
      error: 'invalid_request',
      desc: 'request body is not valid JSON',
    },
    {
      name: 'no body and no content type',
      send: () => raw(undefined, undefined),
      status: 400,
      error: 'invalid_request',
      desc: 'the request body must be application/x-www-form-urlencoded',
    },
    {
      name: 'an empty form',
      send: () => raw('', 'application/x-www-form-urlencoded'),
      status: 400,
      error: 'invalid_request',
      desc: 'missing required parameter grant_type',
    },
    {
      name: 'a 1 MB form body',
      send: () =>
        raw(`${valid()}&pad=${'a'.repeat(1024 * 1024)}`, 'application/x-www-form-urlencoded'),
      status: 413,
      error: 'invalid_request',
      desc: 'request body is too large',
    },
    {
      name: 'the code in the query string',
      send: () =>
        postForm(`${tokenEndpoint(t)}?code=${c.code}`, { ...codeForm(c), client_id: 'web-app' }),
      status: 400,
      error: 'invalid_request',
      desc: 'code must not be sent in the URL',
    },
    {
      name: 'an unknown grant_type',
      send: () => postForm(tokenEndpoint(t), { ...codeForm(c), grant_type: 'urn:x:unknown' }),
      status: 400,
      error: 'unsupported_grant_type',
      desc: 'grant_type urn:x:unknown is not supported',
    },
    {
      name: 'a 101-character grant_type',
      send: () => postForm(tokenEndpoint(t), { ...codeForm(c), grant_type: 'g'.repeat(101) }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter grant_type is too long',
    },
    {
      name: 'a 60 KB code',
      send: () =>
        postForm(tokenEndpoint(t), {
          ...codeForm(c),
          client_id: 'web-app',
          code: 'c'.repeat(60_000),
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter code is too long',
    },
    {
      name: 'a 513-character code',
      send: () =>
        postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', code: 'c'.repeat(513) }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter code is too long',
    },
    {
      name: 'a 257-character client_id',
      send: () => postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'w'.repeat(257) }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter client_id is too long',
    },
    {
      name: 'a 3 KB redirect_uri',
      send: () =>
        postForm(tokenEndpoint(t), {
          ...codeForm(c),
          client_id: 'web-app',
          redirect_uri: `https://app.example.test/${'r'.repeat(3000)}`,
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter redirect_uri is too long',
    },
    {
      name: 'a 513-character resource',
      send: () =>
        postForm(tokenEndpoint(t), {
          ...codeForm(c),
          client_id: 'web-app',
          resource: `${API_A}/${'r'.repeat(500)}`,
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter resource is too long',
    },
    {
      name: 'a scope with the code grant',
      send: () =>
        postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app', scope: 'openid' }),
      status: 400,
      error: 'invalid_request',
      desc: 'scope is not allowed with authorization_code',
    },
    {
      name: 'a 10 KB refresh_token',
      send: () =>
        postForm(tokenEndpoint(t), {
          grant_type: 'refresh_token',
          client_id: 'web-app',
          refresh_token: `tsr_${'t'.repeat(10_000)}`,
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter refresh_token is too long',
    },
    {
      name: 'a 3 KB scope at refresh',
      send: () =>
        postForm(tokenEndpoint(t), {
          grant_type: 'refresh_token',
          client_id: 'web-app',
          refresh_token: 'tsr_x',
          scope: 's '.repeat(1500),
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'parameter scope is too long',
    },
    {
      name: 'a scope with a quote at refresh',
      send: () =>
        postForm(tokenEndpoint(t), {
          grant_type: 'refresh_token',
          client_id: 'web-app',
          refresh_token: 'tsr_x',
          scope: 'openid "x"',
        }),
      status: 400,
      error: 'invalid_request',
      desc: 'scope contains an invalid character',
    },
  ]

  it('the body limit is exact: 65536 bytes are parsed, 65537 bytes are 413', async () => {
    const limit = t.server.ctx.config.bodyLimit
    expect(limit).toBe(65_536)
    const body = (n: number) => {
      const head = 'grant_type=password&client_id=web-app&pad='
      return head + 'a'.repeat(n - head.length)
    }
    const before = dbCounts(t)
    expectOAuthError(
      await raw(body(limit), 'application/x-www-form-urlencoded'),
      400,
      'unsupported_grant_type',
      'grant_type password is not supported',
    )
    expectOAuthError(
      await raw(body(limit + 1), 'application/x-www-form-urlencoded'),
      413,
      'invalid_request',
      'request body is too large',
    )
    expect(dbCounts(t)).toEqual(before)
  })

  it.each(rows)('$name -> $status $error', async ({ send, status, error, desc }) => {
    const before = dbCounts(t)
    expectOAuthError(await send(), status, error, desc)
    expect(dbCounts(t)).toEqual(before)
    expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBeNull()
  })

  it('after all the bad input, the same code still redeems once', async () => {
    const before = dbCounts(t)
    const r = await postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app' })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      token_type: 'Bearer',
      scope: 'openid profile email offline_access',
    })
    expect(r.body.refresh_token).toMatch(/^tsr_/)
    expect((await t.store.getCode(sha256b64u(c.code)))?.consumedAt).toBe(t.clock.now())
    expect(dbCounts(t)).toMatchObject({
      sessions: before.sessions + 1,
      consumedCodes: before.consumedCodes + 1,
    })
    // Once: the second redemption is refused.
    expectOAuthError(
      await postForm(tokenEndpoint(t), { ...codeForm(c), client_id: 'web-app' }),
      400,
      'invalid_grant',
      'the authorization code has already been used',
    )
  })
})
