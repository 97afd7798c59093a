/**
 * Child process: oidc-provider 9 configured like Tessera for the refresh benchmark. A public client
 * with PKCE and offline_access, refresh-token rotation on, access tokens as ES256 JWTs for one
 * resource indicator (aud, scope, client_id, sid, auth_time), dev interactions for sign-in.
 *
 * Env: BENCH_OIDC_ADAPTER=memory (its default in-memory adapter) | sqlite (better-sqlite3,
 * synchronous FULL, at BENCH_DB_FILE).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import Provider, { errors, type AdapterFactory } from 'oidc-provider'
import {
  ACCESS_TOKEN_TTL_SECONDS,
  API_AUDIENCE,
  API_SCOPE,
  CLIENT_ID,
  REDIRECT_URI,
} from '../lib/constants.js'
import { serveIpc } from '../lib/ipc.js'
import { freePort } from '../lib/net.js'
import { sqliteAdapter } from './oidc-sqlite-adapter.js'

const adapterKind = process.env.BENCH_OIDC_ADAPTER ?? 'memory'
let adapter: { factory: AdapterFactory; close(): void } | undefined
if (adapterKind === 'sqlite') {
  const file = process.env.BENCH_DB_FILE
  if (!file) throw new Error('BENCH_DB_FILE is required with BENCH_OIDC_ADAPTER=sqlite')
  adapter = sqliteAdapter(file)
} else if (adapterKind !== 'memory') {
  throw new Error(`BENCH_OIDC_ADAPTER must be memory or sqlite, got ${adapterKind}`)
}

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const jwk = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'bench-es256',
  alg: 'ES256',
  use: 'sig',
}

interface TokenLike {
  kind?: string
  sid?: string
}
interface CtxLike {
  oidc?: {
    entities?: { RefreshToken?: { authTime?: number }; AuthorizationCode?: { authTime?: number } }
  }
}

const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const provider = new Provider(issuer, {
  ...(adapter ? { adapter: adapter.factory } : {}),
  clients: [
    {
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      // oidc-provider records the session id (`sid`) in codes and refresh tokens only for clients
      // that need it for back-channel logout; Tessera always does, so this client asks for it.
      backchannel_logout_uri: 'https://app.bench.test/backchannel-logout',
      backchannel_logout_session_required: true,
    },
  ],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL_SECONDS,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 14 * 86_400,
    Grant: 90 * 86_400,
    Session: 14 * 86_400,
    Interaction: 600,
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => API_AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        if (resource !== API_AUDIENCE) throw new errors.InvalidTarget()
        return {
          scope: API_SCOPE,
          audience: API_AUDIENCE,
          accessTokenTTL: ACCESS_TOKEN_TTL_SECONDS,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }
      },
    },
  },
  // The claims Tessera puts in its access tokens and oidc-provider leaves out by default.
  extraTokenClaims: (ctx: CtxLike, token: TokenLike) => {
    if (token.kind !== 'AccessToken') return undefined
    const e = ctx.oidc?.entities
    const authTime = e?.RefreshToken?.authTime ?? e?.AuthorizationCode?.authTime
    return { sid: token.sid, ...(authTime !== undefined ? { auth_time: authTime } : {}) }
  },
})

provider.on('server_error', (_ctx: unknown, err: Error) => console.error('server_error', err))
provider.on('grant.error', (_ctx: unknown, err: Error) => console.error('grant.error', err.message))

const server = provider.listen(port, '127.0.0.1')
// Keep idle connections as long as Tessera's Fastify does (72 s; Node's default is 5 s), so a
// target's connections survive the others' measured windows.
server.keepAliveTimeout = 72_000
await new Promise<void>((resolve) => server.once('listening', () => resolve()))

serveIpc(
  { url: issuer, adapter: adapterKind, dbFile: process.env.BENCH_DB_FILE ?? null },
  {},
  async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    adapter?.close()
  },
)
