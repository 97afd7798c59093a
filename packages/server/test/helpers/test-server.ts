import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { Logger } from 'pino'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ApiConfig, ClientConfig } from '../../src/config/config.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import type { RouteModule } from '../../src/http/app.js'
import { FakeClock } from '../../src/lib/clock.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { createTesseraServer, type ServerHooks, type TesseraServer } from '../../src/server.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { Store } from '../../src/store/store.js'
import type { UserRecord } from '../../src/store/types.js'
import { createUser } from '../../src/users/create-user.js'
import type { Timers } from '../../src/webhooks/dispatcher.js'

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123456789'
export const API_A = 'https://api-a.example.test'
export const API_B = 'https://api-b.example.test'
export const WEB_REDIRECT = 'https://app.example.test/callback'
export const NATIVE_REDIRECT = 'com.example.app:/callback'
export const CONFIDENTIAL_SECRET = 'confidential-secret-0123456789-abcdefghij'

export const defaultApis: ApiConfig[] = [
  {
    audience: API_A,
    name: 'API A',
    scopes: ['read', 'write'],
    accessTokenTtlSeconds: 900,
    userClaims: ['roles'],
  },
  { audience: API_B, name: 'API B', scopes: ['orders'], accessTokenTtlSeconds: 300 },
]

export const defaultClients: ClientConfig[] = [
  {
    id: 'web-app',
    redirectUris: [WEB_REDIRECT, 'https://app.example.test/other'],
    postLogoutRedirectUris: ['https://app.example.test/signed-out'],
    audiences: [API_A, API_B],
    scopes: ['openid', 'profile', 'email', 'offline_access', 'read', 'write', 'orders'],
  },
  {
    id: 'native-app',
    applicationType: 'native',
    redirectUris: [NATIVE_REDIRECT, 'http://127.0.0.1/cb', 'http://[::1]/cb'],
    audiences: [API_A],
    scopes: ['openid', 'offline_access', 'read'],
  },
  {
    id: 'confidential-app',
    secret: CONFIDENTIAL_SECRET,
    redirectUris: ['https://backend.example.test/callback'],
    audiences: [API_A, API_B],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'profile', 'offline_access', 'read', 'write', 'orders'],
  },
  {
    id: 'other-app',
    redirectUris: ['https://other.example.test/callback'],
    audiences: [API_A],
    scopes: ['openid', 'offline_access', 'read'],
  },
]

export interface TestServer {
  server: TesseraServer
  url: string
  store: Store
  clock: FakeClock
  dir: string
  dbFile: string
  createUser(
    username?: string,
    password?: string,
    metadata?: Record<string, unknown>,
  ): Promise<UserRecord>
  close(): Promise<void>
}

export interface TestServerOptions {
  config?: Partial<ConfigInput>
  clients?: ClientConfig[]
  apis?: ApiConfig[]
  hooks?: ServerHooks
  /** Defaults to a FakeClock at 2026-01-01. `'production'`: the clock createTesseraServer builds
   * when given none (a MonotonicClock over Date.now); `TestServer.clock` then reads it and cannot
   * be moved (move Date.now instead). */
  clock?: FakeClock | 'production'
  /** Use an existing store instead of a fresh SQLite file. */
  store?: Store
  /** Reuse this directory (e.g. to restart on the same database). */
  dir?: string
  /** Timers of the webhook dispatcher's loop (e.g. ones that never fire, to drive it by hand). */
  timers?: Timers
  /** Extra route modules, registered after Tessera's own. */
  routes?: RouteModule[]
  /** The server's logger (default: the configuration's, silent). */
  logger?: Logger
  /** Host name of the issuer URL (default `127.0.0.1`); the server listens on 127.0.0.1 either
   * way. `localhost` gives a WebAuthn RP ID (an IP literal cannot be one). */
  issuerHost?: 'localhost' | '127.0.0.1'
}

/** A real Tessera server on 127.0.0.1 with an ephemeral port and a SQLite file in a temp dir. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tessera-test-'))
  const dbFile = join(dir, 'tessera.db')
  const production = opts.clock === 'production'
  const clock =
    opts.clock === 'production' ? new ServerClockView() : (opts.clock ?? new FakeClock())
  const store = opts.store ?? new SqliteStore({ file: dbFile, synchronous: 'NORMAL' })
  // The issuer is the listening URL, so discovery, `iss` and redirects all agree.
  const port = await freePort()
  const config = resolveConfig({
    issuer: `http://${opts.issuerHost ?? '127.0.0.1'}:${port}`,
    secret: TEST_SECRET,
    database: { driver: 'sqlite', file: dbFile },
    logLevel: 'silent',
    passwordCost: { N: 1024, r: 8, p: 1 },
    apis: opts.apis ?? defaultApis,
    clients: opts.clients ?? defaultClients,
    ...opts.config,
  })
  const server = await createTesseraServer({
    config,
    store,
    ...(production ? {} : { clock }),
    random: cryptoRandom,
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.timers ? { timers: opts.timers } : {}),
    ...(opts.routes ? { routes: opts.routes } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
  })
  if (clock instanceof ServerClockView) clock.server = server
  const url = await server.listen(port, '127.0.0.1')
  return {
    server,
    url,
    store,
    clock,
    dir,
    dbFile,
    async createUser(username = 'alice', password = 'correct horse battery', metadata = {}) {
      return createUser(
        { store, clock, random: cryptoRandom, passwordCost: config.passwordCost },
        { username, password, email: `${username}@example.test`, name: username, metadata },
      )
    },
    async close() {
      await server.close()
      if (!opts.dir) rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The clock of a server started with `clock: 'production'`, read through the server itself. */
class ServerClockView extends FakeClock {
  server: TesseraServer | undefined

  override now(): number {
    if (!this.server) throw new Error('the server is not built yet')
    return this.server.ctx.clock.now()
  }

  override advance(): void {
    throw new Error('the production clock follows Date.now; move that instead')
  }

  override set(): void {
    throw new Error('the production clock follows Date.now; move that instead')
  }
}

/** An ephemeral port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}
