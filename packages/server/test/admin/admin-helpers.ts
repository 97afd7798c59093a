import { hashAdminKey } from '../../src/admin/auth/admin-key-hash.js'
import { ADMIN_API_PREFIX } from '../../src/admin/api/admin-api.js'
import type { SecurityEventRecord } from '../../src/store/types.js'
import { jsonOrText, requestFrom } from '../helpers/grants.js'
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/test-server.js'

/** The admin key every admin test server accepts (configured by its hash, as in production). */
export const ADMIN_KEY = 'tsa_test-admin-key-0123456789-abcdefghijklmnopq'
export const ADMIN_KEY_NAME = 'ops'

/** A test server whose configuration allows ADMIN_KEY (name `ops`). */
export function startAdminServer(opts: TestServerOptions = {}): Promise<TestServer> {
  return startTestServer({
    ...opts,
    config: {
      admin: { apiKeys: [{ name: ADMIN_KEY_NAME, hash: hashAdminKey(ADMIN_KEY) }] },
      ...opts.config,
    },
  })
}

export interface ApiResponse {
  status: number
  headers: Headers
  body: any
}

/** One Admin API call with ADMIN_KEY (or `key`; null sends no Authorization header). */
export async function adminApi(
  t: TestServer,
  method: string,
  path: string,
  body?: unknown,
  o: {
    key?: string | null
    headers?: Record<string, string>
    /** Send from this loopback address (127.0.0.0/8), to be another client IP. */
    from?: string
  } = {},
): Promise<ApiResponse> {
  const key = o.key === undefined ? ADMIN_KEY : o.key
  const headers: Record<string, string> = { ...o.headers }
  if (key !== null) headers.authorization = `Bearer ${key}`
  let payload: string | undefined
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json'
    payload = typeof body === 'string' ? body : JSON.stringify(body)
  }
  if (o.from !== undefined)
    return requestFrom(o.from, method, t.url + ADMIN_API_PREFIX + path, headers, payload)
  const res = await fetch(t.url + ADMIN_API_PREFIX + path, {
    method,
    headers,
    ...(payload !== undefined ? { body: payload } : {}),
  })
  return { status: res.status, headers: res.headers, body: jsonOrText(await res.text()) }
}

/** Every event of the store, oldest first. */
export async function allEvents(t: TestServer): Promise<SecurityEventRecord[]> {
  return (await t.store.listEvents({ limit: 100_000 })).reverse()
}

/** The actor every API-made event of ADMIN_KEY carries. */
export const API_ACTOR = {
  kind: 'api_key',
  id: `config:${ADMIN_KEY_NAME}`,
  name: ADMIN_KEY_NAME,
  via: 'api',
}

export { type TestServer }
