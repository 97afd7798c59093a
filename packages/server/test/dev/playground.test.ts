import { SignJWT, UnsecuredJWT } from 'jose'
import { withTyp } from '../helpers/retype.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildPlayground } from '../../scripts/build-playground.js'
import { DEMO_APIS, DEMO_CLIENT_ID, demoClient } from '../../src/dev/demo.js'
import { issuerApi } from '../../src/oauth/token/audience.js'
import { graceWindow } from '../../src/oauth/token/grace-window.js'
import type { ApiRecord, ClientRecord, SessionRecord, UserRecord } from '../../src/store/types.js'
import {
  defaultApis,
  defaultClients,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'

let t: TestServer
let user: UserRecord
let client: ClientRecord

beforeAll(async () => {
  await buildPlayground({ fromSource: true })
  t = await startTestServer({
    config: { dev: true },
    apis: [...defaultApis, ...DEMO_APIS],
    clients: [...defaultClients, demoClient('http://localhost:4000')],
  })
  user = await t.createUser('pat')
  client = (await t.store.getClient(DEMO_CLIENT_ID))!
})
afterAll(async () => {
  await t.close()
})

async function newSession(): Promise<SessionRecord> {
  const now = t.clock.now()
  const s: SessionRecord = {
    id: t.server.ctx.random.bytes(16).toString('base64url'),
    userId: user.id,
    clientId: DEMO_CLIENT_ID,
    browserSessionId: null,
    state: 'active',
    reason: null,
    endedAt: null,
    scope: 'openid profile offline_access',
    resources: DEMO_APIS.map((a) => a.audience),
    authTime: now,
    amr: ['pwd'],
    createdAt: now,
    lastActiveAt: now,
    expiresAt: now + client.sessionAbsoluteSeconds * 1000,
    idleSeconds: client.sessionIdleSeconds,
    generation: 0,
    rotatedAt: now,
    graceUses: 0,
    graceSeconds: graceWindow(client, {}).seconds,
    graceMaxUses: graceWindow(client, {}).maxUses,
    salt: t.server.ctx.random.bytes(16).toString('base64url'),
    userAgent: 'test',
    ip: '127.0.0.1',
  }
  await t.store.createSession(s)
  return s
}

async function accessToken(
  session: SessionRecord,
  api: ApiRecord = issuerApi(t.server.ctx),
): Promise<string> {
  const { token } = await t.server.ctx.tokens.accessToken({
    api,
    client,
    user,
    scope: session.scope,
    sessionId: session.id,
    authTime: session.authTime,
    amr: session.amr,
  })
  return token
}

const sessionInfo = (token: string) =>
  fetch(t.url + '/playground/session', { headers: { authorization: `Bearer ${token}` } })

describe('playground session endpoint (dev only)', () => {
  it('reports the state, times and idle expiry of the session behind a bearer access token', async () => {
    const s = await newSession()
    const res = await sessionInfo(await accessToken(s))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      sid: s.id,
      state: 'active',
      reason: null,
      createdAt: s.createdAt,
      lastActiveAt: s.lastActiveAt,
      expiresAt: s.expiresAt,
      idleExpiresAt: s.lastActiveAt + s.idleSeconds * 1000,
      now: t.clock.now(),
    })
  })

  it('shows a terminal state with its reason', async () => {
    const s = await newSession()
    const token = await accessToken(s)
    expect(await t.store.endSession(s.id, 'revoked', 'admin', t.clock.now())).toBe(true)
    const body = (await (await sessionInfo(token)).json()) as Record<string, unknown>
    expect(body.state).toBe('revoked')
    expect(body.reason).toBe('admin')
    expect(body.endedAt).toBe(t.clock.now())
  })

  it('TOK-06 an access token for an API audience is refused (aud must be the issuer)', async () => {
    const s = await newSession()
    const api = (await t.store.getApi(DEMO_APIS[0]!.audience))!
    const res = await sessionInfo(await accessToken(s, api))
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token')
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid, expired or has no session"',
    )
  })

  it('JWT-11 a token of the issuer audience typed as an ID token (typ JWT) is refused by typ', async () => {
    const s = await newSession()
    const token = await accessToken(s)
    // Control: the same claims re-signed as at+jwt pass, so only the type differs below.
    expect((await sessionInfo(withTyp(t, token, 'at+jwt'))).status).toBe(200)
    for (const typ of ['JWT', 'logout+jwt', 'application/at+jwt+x']) {
      const res = await sessionInfo(withTyp(t, token, typ))
      expect(res.status).toBe(401)
      expect(await res.json()).toStrictEqual({
        error: 'invalid_token',
        error_description: 'the access token is invalid, expired or has no session',
      })
    }
    // A real ID token too (its audience is the client, so it is refused either way).
    const id = await t.server.ctx.tokens.idToken({
      user,
      client,
      sessionId: s.id,
      authTime: s.authTime,
      amr: [],
      nonce: null,
      accessToken: undefined,
      claims: {},
    })
    expect((await sessionInfo(id)).status).toBe(401)
  })

  it('the access token counts until its exp, by the server clock', async () => {
    const s = await newSession()
    const token = await accessToken(s)
    t.clock.advance(t.server.ctx.config.defaultAccessTokenTtlSeconds * 1000 - 1000)
    expect((await sessionInfo(token)).status).toBe(200)
    t.clock.advance(1000)
    expect((await sessionInfo(token)).status).toBe(401)
  })

  it('a session past its idle timeout is reported abandoned before any sweep wrote it', async () => {
    const s = await newSession()
    t.clock.advance(s.idleSeconds * 1000)
    // A token minted now (the old one would have expired): only the session's state is at issue.
    const body = (await (await sessionInfo(await accessToken(s))).json()) as Record<string, unknown>
    expect(body).toMatchObject({
      state: 'abandoned',
      reason: 'idle_timeout',
      endedAt: s.lastActiveAt + s.idleSeconds * 1000,
    })
    expect((await t.store.getSession(s.id))?.state).toBe('active')
  })

  it('JWT-01 JWT-05 alg none, a forged signature and an unknown kid are refused', async () => {
    const s = await newSession()
    const good = await accessToken(s)
    const [h, p] = good.split('.') as [string, string, string]
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    const none = new UnsecuredJWT(claims).encode()
    const forged = `${h}.${p}.${Buffer.alloc(64, 1).toString('base64url')}`
    const { privateKey } = await import('jose').then((j) => j.generateKeyPair('ES256'))
    const unknownKid = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: '../../etc/passwd' })
      .sign(privateKey)
    for (const token of [none, forged, unknownKid, 'garbage']) {
      const res = await sessionInfo(token)
      expect(res.status).toBe(401)
      expect(await res.json()).toStrictEqual({
        error: 'invalid_token',
        error_description: 'the access token is invalid, expired or has no session',
      })
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera", error="invalid_token", error_description="the access token is invalid, expired or has no session"',
      )
    }
  })

  it('TOK-02 a token in the query string is not accepted', async () => {
    const s = await newSession()
    const token = await accessToken(s)
    const res = await fetch(`${t.url}/playground/session?access_token=${token}`)
    // Refused as /userinfo refuses it: the same parser (src/oauth/bearer.ts) reads both.
    expect(res.status).toBe(400)
    expect(await res.json()).toStrictEqual({
      error: 'invalid_request',
      error_description: 'the access token must not be sent in the URL',
    })
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer realm="tessera", error="invalid_request"',
    )
  })
})

describe('playground page', () => {
  it('is one page under a nonce CSP that forbids framing, its scripts from this origin only (RDR-11, RDR-15)', async () => {
    for (const path of ['/', '/playground/callback']) {
      const res = await fetch(t.url + path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
      const csp = res.headers.get('content-security-policy') ?? ''
      const nonce = /script-src 'nonce-([A-Za-z0-9_-]{22})' 'self'(;|$)/.exec(csp)?.[1]
      expect(nonce).toBeDefined()
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("connect-src 'self'")
      expect(csp).toContain("frame-ancestors 'none'")
      const html = await res.text()
      const scripts = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1])
      expect(scripts).toEqual([
        ' type="application/json" id="playground-settings"',
        ` type="importmap" nonce="${nonce}"`,
        ` type="module" nonce="${nonce}" src="/playground/app.js"`,
      ])
      // The import map gives the served client bundle its package name, as an app imports it.
      const importMap = JSON.parse(
        /<script type="importmap"[^>]*>(.*?)<\/script>/s.exec(html)![1]!,
      ) as unknown
      expect(importMap).toEqual({
        imports: { '@tessera/client': '/playground/tessera-client.js' },
      })
      // Nothing is loaded from elsewhere: the one src is a path on this origin, no href at all.
      expect([...html.matchAll(/\s(src|href)="([^"]*)"/g)].map((m) => m[2])).toEqual([
        '/playground/app.js',
      ])
      const settings = JSON.parse(
        /<script type="application\/json" id="playground-settings">(.*?)<\/script>/s.exec(
          html,
        )![1]!,
      ) as Record<string, unknown>
      expect(settings).toMatchObject({
        issuer: t.url,
        clientId: DEMO_CLIENT_ID,
        redirectUri: t.url + '/playground/callback',
      })
    }
    // A fresh nonce per response.
    const a = (await fetch(t.url + '/')).headers.get('content-security-policy')
    const b = (await fetch(t.url + '/')).headers.get('content-security-policy')
    expect(a).not.toBe(b)
  })

  it('serves the built @tessera/client as an ES module, and the page script that imports it', async () => {
    const client = await fetch(t.url + '/playground/tessera-client.js')
    expect(client.status).toBe(200)
    expect(client.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    expect(client.headers.get('x-content-type-options')).toBe('nosniff')
    const bundle = await client.text()
    // One module, exporting the client's public API, importing nothing.
    expect(bundle).not.toMatch(/^import /m)
    const exported = /^export \{([^}]*)\}/m
      .exec(bundle)?.[1]
      ?.split(',')
      .map((s) => s.trim())
    expect(exported).toEqual(
      expect.arrayContaining([
        'createTesseraClient',
        'indexedDbStorage',
        'browserTabSync',
        'browserLifecycle',
        'TesseraClientError',
      ]),
    )
    const app = await fetch(t.url + '/playground/app.js')
    expect(app.status).toBe(200)
    expect(app.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
    const script = await app.text()
    // The page uses the SDK by its package name (resolved by the import map), not a copy of it.
    expect(script).toMatch(/^import \{[^}]*createTesseraClient[^}]*\} from "@tessera\/client";$/m)
    expect(script).not.toContain('function createTesseraClient')
  })
})

describe('outside dev mode', () => {
  it('neither the playground nor its session endpoint exists', async () => {
    const prod = await startTestServer({
      clients: [...defaultClients, demoClient('http://localhost:4000')],
      apis: [...defaultApis, ...DEMO_APIS],
    })
    try {
      for (const path of [
        '/',
        '/playground/callback',
        '/playground/session',
        '/playground/app.js',
        '/playground/tessera-client.js',
      ]) {
        expect((await fetch(prod.url + path)).status).toBe(404)
      }
    } finally {
      await prod.close()
    }
  })
})
