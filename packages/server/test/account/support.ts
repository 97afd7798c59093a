import { expect } from 'vitest'
import type { ClientConfig } from '../../src/config/config.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  jsonOrText,
  mintCode,
  postForm,
  type MintCodeOptions,
  codeForm,
} from '../helpers/grants.js'
import { defaultClients, type TestServer } from '../helpers/test-server.js'

/** The demo clients, with `account:sessions` allowed for web-app and native-app (not other-app),
 * and a browser app with a cookie-delivered refresh token and its own web origin. */
export const accountClients: ClientConfig[] = [
  ...defaultClients.map((c) =>
    c.id === 'web-app' || c.id === 'native-app'
      ? {
          ...c,
          name: c.id === 'web-app' ? 'Web App' : 'Phone App',
          scopes: [...(c.scopes ?? []), 'account:sessions'],
        }
      : c,
  ),
  {
    id: 'cookie-spa',
    redirectUris: ['http://localhost:5173/callback'],
    refreshTokenDelivery: 'cookie',
    webOrigins: ['http://127.0.0.1:5173'],
    scopes: ['openid', 'offline_access', 'account:sessions'],
  },
]

export const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36'
export const ANDROID_APP = 'okhttp/4.12.0'

export interface SignedIn {
  sid: string
  accessToken: string
  refreshToken: string
}

/**
 * Signs `user` in through the token endpoint with a code minted as /authorize would (auth_time =
 * now on the test clock), from the given user agent, and returns the session's tokens for the
 * issuer (no `resource`).
 */
export async function signIn(
  t: TestServer,
  user: UserRecord,
  o: MintCodeOptions & { userAgent?: string } = {},
): Promise<SignedIn> {
  const clientId = o.clientId ?? 'web-app'
  const c = await mintCode(t, user, {
    scope:
      clientId === 'other-app' ? 'openid offline_access' : 'openid offline_access account:sessions',
    ...o,
    clientId,
  })
  const r = await postForm(
    `${t.url}/oauth/token`,
    codeForm(c),
    o.userAgent ? { 'user-agent': o.userAgent } : {},
  )
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  const refreshToken = r.body.refresh_token as string
  return {
    sid: /^tsr_([^.]+)\./.exec(refreshToken)![1]!,
    accessToken: r.body.access_token as string,
    refreshToken,
  }
}

export interface ApiResponse {
  status: number
  headers: Headers
  body: any
}

/** Calls the account API with a bearer token (or the given headers). */
export async function account(
  t: TestServer,
  method: 'GET' | 'DELETE' | 'POST' | 'OPTIONS',
  path: string,
  token: string | undefined,
  headers: Record<string, string> = {},
): Promise<ApiResponse> {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

export const listSessions = (t: TestServer, token: string, query = '') =>
  account(t, 'GET', `/account/sessions${query}`, token)
export const endSession = (t: TestServer, token: string, id: string) =>
  account(t, 'DELETE', `/account/sessions/${id}`, token)
export const endOthers = (t: TestServer, token: string) =>
  account(t, 'DELETE', '/account/sessions', token)
