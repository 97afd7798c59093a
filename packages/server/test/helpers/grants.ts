import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { sha256b64u } from '../../src/lib/crypto.js'
import type { SessionRecord, UserRecord } from '../../src/store/types.js'
import type { TestServer } from './test-server.js'

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url')
  const challenge = createHash('sha256').update(verifier).digest('base64url')
  return { verifier, challenge }
}

export interface MintCodeOptions {
  clientId?: string
  redirectUri?: string
  scope?: string
  resources?: string[]
  nonce?: string | null
  /** Seconds the code lives. Default 60. */
  ttlSeconds?: number
  /** The browser SSO session the code was issued under. Default none. */
  browserSessionId?: string | null
}

/**
 * Writes an authorization code straight into the store, as /authorize would after sign-in, so
 * token-endpoint tests do not depend on the front channel.
 */
export async function mintCode(
  t: TestServer,
  user: UserRecord,
  o: MintCodeOptions = {},
): Promise<{ code: string; verifier: string; redirectUri: string; clientId: string }> {
  const { verifier, challenge } = pkcePair()
  const code = randomBytes(32).toString('base64url')
  const now = t.clock.now()
  const clientId = o.clientId ?? 'web-app'
  const client = await t.store.getClient(clientId)
  const redirectUri =
    o.redirectUri ?? client?.redirectUris[0] ?? 'https://app.example.test/callback'
  await t.store.createCode({
    codeHash: sha256b64u(code),
    clientId,
    userId: user.id,
    browserSessionId: o.browserSessionId ?? null,
    redirectUri,
    scope: o.scope ?? 'openid profile email offline_access read',
    resources: o.resources ?? client?.audiences ?? [],
    nonce: o.nonce === undefined ? 'n-0S6_WzA2Mj' : o.nonce,
    codeChallenge: challenge,
    codeChallengeMethod: 'S256',
    authTime: now,
    amr: ['pwd'],
    createdAt: now,
    expiresAt: now + (o.ttlSeconds ?? 60) * 1000,
    consumedAt: null,
    sessionId: null,
    userAgent: 'test',
    ip: '127.0.0.1',
  })
  return { code, verifier, redirectUri, clientId }
}

/** POSTs a form to the token endpoint (or another), returning status, headers and parsed JSON. */
export async function postForm(
  url: string,
  form: Record<string, string | string[]>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(form)) {
    for (const x of Array.isArray(v) ? v : [v]) body.append(k, x)
  }
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body,
  })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

/**
 * Like `postForm`, but from a chosen loopback source address (any of 127.0.0.0/8 on Linux), so a
 * test can be several client IPs without trusting a proxy header.
 */
export function postFormFrom(
  localAddress: string,
  url: string,
  form: Record<string, string | string[]>,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any }> {
  const body = new URLSearchParams()
  for (const [k, v] of Object.entries(form)) {
    for (const x of Array.isArray(v) ? v : [v]) body.append(k, x)
  }
  const payload = body.toString()
  return requestFrom(
    localAddress,
    'POST',
    url,
    {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': String(Buffer.byteLength(payload)),
      ...headers,
    },
    payload,
  )
}

/** An HTTP request from a chosen loopback source address; the body parsed as JSON when it is. */
export function requestFrom(
  localAddress: string,
  method: string,
  url: string,
  headers: Record<string, string>,
  payload: string | undefined,
): Promise<{ status: number; headers: Headers; body: any }> {
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        localAddress,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const h = new Headers()
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v)
          }
          const body = jsonOrText(Buffer.concat(chunks).toString('utf8'))
          resolve({ status: res.statusCode ?? 0, headers: h, body })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

/** A response body: parsed when it is JSON, the text otherwise. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export function basicAuth(clientId: string, secret: string): Record<string, string> {
  const enc = (s: string) => encodeURIComponent(s)
  return {
    authorization: `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`,
  }
}

/** The token request that redeems a minted code (authorization_code grant, PKCE verifier, the
 * code's redirect URI and client), with `over` replacing or adding fields. */
export function codeForm(
  c: { code: string; verifier: string; redirectUri: string; clientId: string },
  over: Record<string, string> = {},
): Record<string, string> {
  return {
    grant_type: 'authorization_code',
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: c.redirectUri,
    client_id: c.clientId,
    ...over,
  }
}

/** Redeems a freshly minted code at the token endpoint. */
export async function signInTokens(
  t: TestServer,
  user: UserRecord,
  o: MintCodeOptions & { resource?: string } = {},
): Promise<{ status: number; body: any }> {
  const c = await mintCode(t, user, o)
  return postForm(t.url + '/oauth/token', codeForm(c, o.resource ? { resource: o.resource } : {}))
}

/** Reads a session row straight from the store. */
export async function sessionOf(t: TestServer, id: string): Promise<SessionRecord> {
  const s = await t.store.getSession(id)
  if (!s) throw new Error(`no session ${id}`)
  return s
}
