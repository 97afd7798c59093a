import {
  API_A,
  API_B,
  defaultClients,
  startTestServer,
  WEB_REDIRECT,
  type TestServer,
  type TestServerOptions,
} from '../../../server/test/helpers/test-server.js'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../../server/test/helpers/oauth-flow.js'
import type { UserRecord } from '../../../server/src/store/types.js'
import type { ClientConfig } from '../../../server/src/config/config.js'
import {
  createTesseraClient,
  memoryStorage,
  type TesseraClient,
  type TesseraClientOptions,
  type TesseraStorage,
} from '../../src/index.js'
import { ApiServer } from './api-server.js'
import { CountingFetch } from './counting-fetch.js'
import type { VerifiedApi } from './verified-api.js'

import { ALICE } from '../../../server/test/interop/hosted-sign-in.js'

export { ALICE, API_A, API_B, WEB_REDIRECT }

/**
 * Follows an authorization URL through Tessera's hosted sign-in form over HTTP (fetch and a
 * cookie jar, as a browser would) to the redirect back to the client. No test framework inside,
 * so benchmarks can use it too.
 */
export async function followSignIn(t: TestServer, url: URL): Promise<URL> {
  const jar = new CookieJar()
  let res = await browserFetch(jar, url.href)
  if (isLoginRedirect(t, res)) {
    const login = await openLogin(t, res, jar)
    res = await submitLogin(t, login.fields, jar, ALICE.username, ALICE.password)
  }
  const location = res.headers.get('location')
  if (res.status !== 303 || !location) throw new Error(`sign-in ended with ${res.status}`)
  return new URL(location)
}

export interface Tessera {
  t: TestServer
  api: ApiServer
  alice: UserRecord
  close(): Promise<void>
}

/**
 * A real Tessera server on loopback whose clock starts at the real time, with a real API server
 * (an audience of its own) next to it, and the user alice.
 */
export async function startTessera(
  o: {
    client?: Partial<ClientConfig>
    /** Server settings besides the APIs and clients. */
    config?: TestServerOptions['config']
    /** A second API, checked by @tessera/verify, allowed for `web-app` too. */
    verifiedApi?: VerifiedApi
  } = {},
): Promise<Tessera> {
  const api = new ApiServer()
  const box: { t?: TestServer } = {}
  await api.start(
    () => box.t!.url,
    () => box.t!.clock.now(),
  )
  const extra = o.verifiedApi ? [await o.verifiedApi.start(() => box.t!.url)] : []
  const web = defaultClients.find((c) => c.id === 'web-app')!
  const t = await startTestServer({
    apis: [
      { audience: API_A, name: 'API A', scopes: ['read', 'write'], accessTokenTtlSeconds: 900 },
      { audience: API_B, name: 'API B', scopes: ['orders'], accessTokenTtlSeconds: 300 },
      { audience: api.url, name: 'Loopback API', scopes: ['orders'], accessTokenTtlSeconds: 600 },
      ...extra.map((audience) => ({ audience, name: 'Verified API', scopes: ['orders'] })),
    ],
    clients: [
      { ...web, audiences: [API_A, API_B, api.url, ...extra], ...o.client },
      ...defaultClients.filter((c) => c.id !== 'web-app'),
    ],
    ...(o.config ? { config: o.config } : {}),
  })
  box.t = t
  t.clock.set(Date.now())
  const alice = await t.createUser(ALICE.username, ALICE.password)
  return {
    t,
    api,
    alice,
    async close() {
      await t.close()
      await api.close()
      await o.verifiedApi?.close()
    },
  }
}

export function clientFor(
  s: Tessera,
  o: Partial<TesseraClientOptions> & { counting?: CountingFetch; storage?: TesseraStorage } = {},
): { client: TesseraClient; counting: CountingFetch; storage: TesseraStorage } {
  const counting = o.counting ?? new CountingFetch()
  const storage = o.storage ?? memoryStorage()
  const client = createTesseraClient({
    issuer: s.t.url,
    clientId: 'web-app',
    redirectUri: WEB_REDIRECT,
    apis: [
      { baseUrl: s.api.url, audience: s.api.url },
      { baseUrl: API_A, audience: API_A, scope: 'read' },
      { baseUrl: API_B, audience: API_B, scope: 'orders' },
    ],
    fetch: counting.fetch,
    ...o,
    storage,
  })
  return { client, counting, storage }
}

/** Runs the whole sign-in: the client's URL, the hosted form over HTTP, the callback. */
export async function signIn(s: Tessera, client: TesseraClient) {
  return client.handleRedirectCallback(await followSignIn(s.t, await client.signIn()))
}

/** The session id a Tessera refresh token names. */
export function sessionIdOf(refreshToken: string): string {
  const m = /^tsr_([A-Za-z0-9_-]{22})\./.exec(refreshToken)
  if (!m) throw new Error('not a Tessera refresh token')
  return m[1]!
}

/** Reads the client's stored session record. */
export async function storedSession(storage: TesseraStorage): Promise<any> {
  const raw = await storage.get('tessera.web-app.session')
  return raw === null ? null : JSON.parse(raw)
}
