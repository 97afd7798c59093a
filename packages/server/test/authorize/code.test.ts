import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  authorizationParams,
  authorize,
  type CookieJar,
  rowCounts,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import {
  API_A,
  API_B,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
} from '../helpers/test-server.js'

let t: TestServer
let alice: UserRecord
let sso: CookieJar
beforeAll(async () => {
  t = await startTestServer({ config: { codeTtlSeconds: 45 } })
  alice = await t.createUser()
  sso = (await authorize(t)).cookies
})
afterAll(async () => {
  await t.close()
})

describe('CODE-08 authorization code entropy', () => {
  it('codes are 32 CSPRNG bytes (43 base64url characters), unique, with balanced bits', async () => {
    const N = 300
    const codes: string[] = []
    for (let i = 0; i < N; i++) codes.push((await authorize(t, { jar: sso, scope: 'openid' })).code)
    expect(new Set(codes).size).toBe(N)
    const ones = new Array<number>(256).fill(0)
    for (const c of codes) {
      expect(c).toMatch(/^[A-Za-z0-9_-]{43}$/)
      const bytes = Buffer.from(c, 'base64url')
      expect(bytes.length).toBe(32)
      expect(bytes.toString('base64url')).toBe(c)
      for (let bit = 0; bit < 256; bit++) ones[bit]! += (bytes[bit >> 3]! >> (7 - (bit & 7))) & 1
    }
    // Every bit position is set in about half the codes (binomial, sd ~ 8.7 of 300): a constant or
    // counter-like part of the code would sit at 0, N or far off N/2.
    for (const n of ones) expect(Math.abs(n - N / 2)).toBeLessThan(60)
    // Shannon entropy of the bytes over all codes, in bits per byte (8 for uniform; 9600 samples).
    const freq = new Array<number>(256).fill(0)
    for (const c of codes) for (const b of Buffer.from(c, 'base64url')) freq[b]! += 1
    const total = N * 32
    const entropy = -freq.reduce(
      (s, f) => (f === 0 ? s : s + (f / total) * Math.log2(f / total)),
      0,
    )
    expect(entropy).toBeGreaterThan(7.9)
  })

  it('only the sha256 of a code is stored; the code is nowhere in the database file', async () => {
    const a = await authorize(t, { jar: sso })
    expect(await t.store.getCode(sha256b64u(a.code))).toBeDefined()
    const raw = readFileSync(t.dbFile).toString('latin1') + readWal()
    expect(raw.includes(a.code)).toBe(false)
    expect(raw.includes(sha256b64u(a.code))).toBe(true)
  })
})

function readWal(): string {
  try {
    return readFileSync(t.dbFile + '-wal').toString('latin1')
  } catch {
    return ''
  }
}

describe('the authorization code record', () => {
  it('binds client, user, redirect URI, scope, resources, nonce, PKCE, SSO session, auth_time, amr, UA and IP', async () => {
    const a = await authorize(t, {
      jar: sso,
      scope: 'openid profile read',
      nonce: 'n-123',
      resource: [API_A],
    })
    const rec = await t.store.getCode(sha256b64u(a.code))
    const now = t.clock.now()
    const browser = await t.store.getBrowserSession(sha256b64u(sso.get('tessera_sso')!))
    expect(rec).toEqual({
      codeHash: sha256b64u(a.code),
      clientId: 'web-app',
      userId: alice.id,
      browserSessionId: browser!.id,
      redirectUri: WEB_REDIRECT,
      scope: 'openid profile read',
      resources: [API_A],
      nonce: 'n-123',
      codeChallenge: createHash('sha256').update(a.codeVerifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      authTime: browser!.authTime,
      amr: ['pwd'],
      createdAt: now,
      expiresAt: now + 45_000,
      consumedAt: null,
      sessionId: null,
      userAgent: 'node',
      ip: '127.0.0.1',
      dpopJkt: null,
    })
  })

  it('without resource or audience the grant gets all the client audiences', async () => {
    const a = await authorize(t, { jar: sso })
    expect((await t.store.getCode(sha256b64u(a.code)))?.resources).toEqual([API_A, API_B])
  })

  it('audience (Auth0 alias) and repeated resource narrow the grant', async () => {
    const b = await authorize(t, { jar: sso, audience: API_B })
    expect((await t.store.getCode(sha256b64u(b.code)))?.resources).toEqual([API_B])
    const c = await authorize(t, { jar: sso, resource: [API_B, API_A, API_B] })
    expect((await t.store.getCode(sha256b64u(c.code)))?.resources).toEqual([API_B, API_A])
  })

  it('duplicate scope values are stored once, in request order', async () => {
    const a = await authorize(t, { jar: sso, scope: 'read openid  read' })
    expect((await t.store.getCode(sha256b64u(a.code)))?.scope).toBe('read openid')
  })
})

describe('POST /authorize (OIDC Core 3.1.2.1) and RDR-10', () => {
  it('a form POST works like GET and answers 303, never 307', async () => {
    const a = await authorize(t, { jar: sso, method: 'POST' })
    expect(a.code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const { params } = authorizationParams()
    const res = await startAuthorize(t, params, sso, 'POST')
    expect(res.status).toBe(303)
  })

  it('the first sign-in of a POSTed request ends in a 303 too', async () => {
    const a = await authorize(t, { method: 'POST' })
    expect(a.signedIn).toBe(true)
  })

  it('a JSON body is refused with an error page and changes nothing', async () => {
    const before = rowCounts(t)
    const { params } = authorizationParams()
    const res2 = await fetch(t.url + '/authorize', {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: sso.header()! },
      body: JSON.stringify(Object.fromEntries(params)),
      redirect: 'manual',
    })
    expect(res2.status).toBe(400)
    expect(res2.headers.get('location')).toBeNull()
    expect(res2.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const res3 = await fetch(t.url + '/authorize', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', cookie: sso.header()! },
      body: params.toString(),
      redirect: 'manual',
    })
    expect(res3.status).toBe(400)
    expect(res3.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(rowCounts(t).authorization_codes).toBe(before.authorization_codes)
  })
})

describe('RDR-12 no CORS on /authorize', () => {
  it('a preflight gets no Access-Control-Allow-Origin', async () => {
    const res = await fetch(t.url + '/authorize', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'GET',
      },
    })
    expect(res.headers.get('access-control-allow-origin')).toBeNull()
    expect(res.headers.get('access-control-allow-methods')).toBeNull()
    expect(res.status).toBe(404)
  })

  it('a cross-origin GET or POST gets no Access-Control-Allow-Origin', async () => {
    const { params } = authorizationParams()
    for (const method of ['GET', 'POST'] as const) {
      const res = await fetch(
        method === 'GET' ? `${t.url}/authorize?${params}` : `${t.url}/authorize`,
        {
          method,
          headers: {
            origin: 'https://evil.example',
            cookie: sso.header()!,
            ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
          },
          ...(method === 'POST' ? { body: params.toString() } : {}),
          redirect: 'manual',
        },
      )
      expect(res.status).toBe(303)
      expect(res.headers.get('access-control-allow-origin')).toBeNull()
    }
  })
})
