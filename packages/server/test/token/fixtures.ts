import BetterSqlite3 from 'better-sqlite3'
import { createRemoteJWKSet, decodeJwt } from 'jose'
import { afterAll, beforeAll, expect } from 'vitest'
import type { ClientConfig } from '../../src/config/config.js'
import { introspect as judgeToken } from '../../src/oauth/introspect.js'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, postForm, signInTokens, jsonOrText } from '../helpers/grants.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  defaultClients,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from '../helpers/test-server.js'

/** Shared setup of the token-endpoint checklist tests (test/token/*.test.ts). */

export const POST_SECRET = 'post-secret-0123456789-abcdefghijklmnop'
/** A secret that needs form-urlencoding inside Basic credentials (RFC 6749 2.3.1). */
export const SPECIAL_SECRET = 'sp3c!al: secret+with/slash%25&amp=é-0123456789'

export const RS_SECRET = 'resource-server-secret-0123456789-abcdefgh'

/** The demo clients plus the ones these tests need. */
export const tokenClients: ClientConfig[] = [
  ...defaultClients,
  {
    id: 'post-app',
    secret: POST_SECRET,
    tokenEndpointAuthMethod: 'client_secret_post',
    redirectUris: ['https://post.example.test/callback'],
    audiences: [API_A],
    scopes: ['openid', 'offline_access', 'read'],
  },
  {
    id: 'special-app',
    secret: SPECIAL_SECRET,
    redirectUris: ['https://special.example.test/callback'],
    audiences: [API_A],
    scopes: ['openid', 'offline_access', 'read'],
  },
  {
    id: 'code-only-app',
    grantTypes: ['authorization_code'],
    redirectUris: ['https://code-only.example.test/callback'],
    scopes: ['openid', 'profile', 'offline_access'],
  },
  {
    // Short lifetimes for idle/absolute boundaries: idle 10 min, absolute 30 min.
    id: 'short-app',
    redirectUris: ['https://short.example.test/callback'],
    audiences: [API_A],
    scopes: ['openid', 'offline_access', 'read'],
    sessionIdleSeconds: 600,
    sessionAbsoluteSeconds: 1800,
  },
  {
    // The resource server of both APIs: it may introspect their access tokens (SES-12).
    id: 'api-rs',
    secret: RS_SECRET,
    grantTypes: ['client_credentials'],
    scopes: [],
    resourceServerFor: [API_A, API_B],
  },
  {
    // The resource server of API A only.
    id: 'api-a-rs',
    secret: RS_SECRET,
    grantTypes: ['client_credentials'],
    scopes: [],
    resourceServerFor: [API_A],
  },
  {
    id: 'grace2-app',
    redirectUris: ['https://grace2.example.test/callback'],
    scopes: ['openid', 'offline_access'],
    refreshGraceMaxUses: 2,
  },
]

/**
 * Throttles far above what one test file produces, so the many failures the protocol tables cause
 * from 127.0.0.1 in one frozen minute never turn into 429s. The throttle has its own tests
 * (throttle.test.ts, introspection.test.ts) with small limits.
 */
export const LENIENT_THROTTLE = {
  invalidGrantPerIp: { limit: 1_000_000, windowSeconds: 60 },
  invalidGrantPerClient: { limit: 1_000_000, windowSeconds: 60 },
}

export function startTokenServer(opts: TestServerOptions = {}): Promise<TestServer> {
  return startTestServer({
    clients: tokenClients,
    ...opts,
    config: { throttle: LENIENT_THROTTLE, ...opts.config },
  })
}

/** What a token test file shares: one server for the file and its user alice. */
export interface TokenSuite {
  t: TestServer
  alice: UserRecord
}

/**
 * Registers the file's prologue: before all tests, start a token server and create alice, then
 * hand both to `ready`; after all tests, close the server.
 *
 * @example
 * let t: TestServer
 * let alice: UserRecord
 * useTokenServer((s) => ({ t, alice } = s))
 */
export function useTokenServer(
  ready: (suite: TokenSuite) => void,
  opts: TestServerOptions = {},
): void {
  let server: TestServer | undefined
  beforeAll(async () => {
    server = await startTokenServer(opts)
    ready({ t: server, alice: await server.createUser('alice') })
  })
  afterAll(async () => {
    await server?.close()
  })
}

/** The tokens of one successful sign-in, and the session (`sid`) its refresh token names. */
export interface SignedIn {
  at: string
  rt: string
  sid: string
  idToken: string
}

/**
 * Signs `user` in through the code flow (web-app unless `o.clientId` says otherwise) with the
 * scope 'openid profile offline_access read' unless `o.scope` says otherwise; asserts a 200.
 */
export async function signInSession(
  t: TestServer,
  user: UserRecord,
  o: Parameters<typeof signInTokens>[2] = {},
): Promise<SignedIn> {
  const r = await signInTokens(t, user, { scope: 'openid profile offline_access read', ...o })
  expect(r.status).toBe(200)
  return {
    at: r.body.access_token,
    rt: r.body.refresh_token,
    sid: sidOf(r.body.refresh_token),
    idToken: r.body.id_token,
  }
}

export const confidentialAuth = (): Record<string, string> =>
  basicAuth('confidential-app', CONFIDENTIAL_SECRET)

export type FormResponse = Awaited<ReturnType<typeof postForm>>

export function tokenEndpoint(t: TestServer): string {
  return `${t.url}/oauth/token`
}

/** A refresh_token grant by a public client (client_id in the body) unless headers authenticate. */
export function refresh(
  t: TestServer,
  refreshToken: string,
  extra: Record<string, string | string[]> = {},
  clientId = 'web-app',
): Promise<FormResponse> {
  return postForm(tokenEndpoint(t), {
    grant_type: 'refresh_token',
    refresh_token: refreshToken,
    client_id: clientId,
    ...extra,
  })
}

/**
 * Introspects over HTTP as a caller that may see the token (SES-12): confidential-app for its own
 * tokens and for anything that is not ours, api-rs for an access token of API A or B. A token of a
 * public client for no API (its refresh token, an access token for the issuer) may be seen by
 * nobody: that throws, use isActive for it.
 */
export async function introspect(t: TestServer, token: string): Promise<FormResponse> {
  let clientId: unknown
  let aud: unknown
  const sid = /^tsr_([A-Za-z0-9_-]{22})\./.exec(token)?.[1]
  if (sid) {
    clientId = (await t.store.getSession(sid))?.clientId
  } else {
    try {
      ;({ client_id: clientId, aud } = decodeJwt(token))
    } catch {
      // Not a JWT: not ours either.
    }
  }
  let auth = confidentialAuth()
  if (
    typeof aud === 'string' &&
    (aud === API_A || aud === API_B) &&
    clientId !== 'confidential-app'
  ) {
    auth = basicAuth('api-rs', RS_SECRET)
  } else if (clientId !== undefined && clientId !== 'confidential-app') {
    throw new Error('no client may introspect this token of a public client: use isActive')
  }
  return postForm(`${t.url}/oauth/introspect`, { token }, auth)
}

/**
 * True iff the server holds the token active: the judgement its introspection endpoint makes
 * before it asks whether the caller may see the token, so it works for every client's tokens
 * (public clients cannot introspect at all). Who may see what is tested over HTTP in
 * introspection.test.ts.
 */
export async function isActive(t: TestServer, token: string): Promise<boolean> {
  return (await judge(t, token)).active === true
}

/** The introspection answer the server would give a caller allowed to see the token. */
export async function judge(t: TestServer, token: string): Promise<Record<string, unknown>> {
  return (await judgeToken(t.server.ctx, token)).result ?? { active: false }
}

export async function userinfo(
  t: TestServer,
  accessToken: string,
): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${t.url}/userinfo`, {
    headers: { authorization: `Bearer ${accessToken}` },
  })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

/** RFC 6749 appendix A.7: error_description is %x20-21 / %x23-5B / %x5D-7E. */
/** The token endpoint's descriptions for a refresh token it cannot use. */
export const NO_LONGER_VALID = 'the refresh token is no longer valid'
export const INVALID = 'the refresh token is invalid'

export const DESCRIPTION_CHARSET = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/

/**
 * Asserts an RFC 6749 5.2 error response: the status, JSON with exactly `error` and
 * `error_description`, the exact description, a safe charset and `Cache-Control: no-store`.
 */
export function expectOAuthError(
  r: FormResponse,
  status: number,
  error: string,
  description: string,
): void {
  expect({ status: r.status, body: r.body }).toEqual({
    status,
    body: { error, error_description: description },
  })
  expect(r.headers.get('content-type')).toMatch(/^application\/json/)
  expect(r.headers.get('cache-control')).toBe('no-store')
  expect(description).toMatch(DESCRIPTION_CHARSET)
}

/** Row counts read straight from the SQLite file, to prove a refused request wrote nothing. */
export interface DbCounts {
  sessions: number
  activeSessions: number
  codes: number
  consumedCodes: number
  events: number
  maxGeneration: number
}

export function dbCounts(t: TestServer): DbCounts {
  const db = new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
  try {
    const one = (q: string): number => Number((db.prepare(q).get() as { n: number | null }).n ?? 0)
    return {
      sessions: one('select count(*) as n from sessions'),
      activeSessions: one("select count(*) as n from sessions where state = 'active'"),
      codes: one('select count(*) as n from authorization_codes'),
      consumedCodes: one(
        'select count(*) as n from authorization_codes where consumed_at is not null',
      ),
      events: one('select count(*) as n from security_events'),
      maxGeneration: one('select max(generation) as n from sessions'),
    }
  } finally {
    db.close()
  }
}

export function jwksOf(t: TestServer): ReturnType<typeof createRemoteJWKSet> {
  return createRemoteJWKSet(new URL(`${t.url}/.well-known/jwks.json`))
}

/** The session id (`sid`) inside a refresh token `tsr_<sid>.<generation>.<mac>`. */
export function sidOf(refreshToken: string): string {
  const m = /^tsr_([A-Za-z0-9_-]{22})\.\d+\./.exec(refreshToken)
  if (!m) throw new Error('not a refresh token')
  return m[1] as string
}
