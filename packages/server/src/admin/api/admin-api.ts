/**
 * The Admin API: JSON under `/admin/api/v1`, authenticated by an admin key
 * (`Authorization: Bearer <key>`). Every route is one row of `ROUTES` below, calling the admin
 * service layer that the console and the CLI share. Errors are `{ error, error_description }` with
 * a 4xx status and change nothing; every change records a security event naming the key.
 *
 * @example
 * // curl -H "Authorization: Bearer $TESSERA_ADMIN_KEY" https://auth.example.com/admin/api/v1/users?search=ada
 * // -> 200 {"users":[{"id":"usr_...","username":"ada",...}],"nextCursor":null}
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { sendOAuthError, toOAuthError } from '../../http/app.js'
import { clientIp, userAgent } from '../../http/request-info.js'
import { InvalidRequest, InvalidToken, type OAuthError } from '../../oauth/errors.js'
import { GRACE_MAX_USES_RANGE, GRACE_SECONDS_RANGE } from '../../oauth/token/grace-window.js'
import type { Actor } from '../actor.js'
import { AdminServices } from '../admin-services.js'
import { AccountAdmin } from '../services/account-admin.js'
import type { ClientInput } from '../services/client-admin.js'
import { PAGE } from '../services/cursor.js'
import { EVENT_TYPES } from '../services/event-admin.js'
import { SESSION_STATES } from '../services/session-admin.js'
import { jsonBody, noBody, queryOf, type Spec } from './json-input.js'

export const ADMIN_API_PREFIX = '/admin/api/v1'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the request's admin key is verified. */
    adminActor?: Actor
  }
}

interface Call {
  req: FastifyRequest<{ Params: Record<string, string> }>
  reply: FastifyReply
  admin: AdminServices
  actor: Actor
  /** Self-service account actions (mail, sign-up); absent where no server runs. */
  accounts?: AccountAdmin
}

function accountAdmin(c: Call): AccountAdmin {
  if (!c.accounts) throw new InvalidRequest('account actions need a running server')
  return c.accounts
}

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  /** Resolves to the JSON body; sets another status on `reply` when not 200. */
  handler: (c: Call) => Promise<unknown>
}

const LIMIT = { type: 'int', min: 1, max: PAGE.max } as const
const CURSOR = { type: 'string', max: 700 } as const

const USER_FIELDS = {
  email: { type: 'string', max: 254, nullable: true },
  name: { type: 'string', max: 200, nullable: true },
  metadata: { type: 'object' },
} as const satisfies Spec

const NEW_USER = {
  username: { type: 'string', max: 128 },
  password: { type: 'string', max: 1024 },
  ...USER_FIELDS,
} as const satisfies Spec

const SECONDS = { type: 'int', min: 0, max: 10 * 365 * 86_400 } as const
const CLIENT = {
  id: { type: 'string', max: 128 },
  name: { type: 'string', max: 200 },
  tokenEndpointAuthMethod: {
    type: 'enum',
    values: ['none', 'client_secret_basic', 'client_secret_post'],
  },
  applicationType: { type: 'enum', values: ['web', 'native'] },
  redirectUris: { type: 'strings' },
  postLogoutRedirectUris: { type: 'strings' },
  grantTypes: { type: 'strings' },
  scopes: { type: 'strings' },
  audiences: { type: 'strings' },
  resourceServerFor: { type: 'strings' },
  refreshGraceSeconds: { type: 'int', ...GRACE_SECONDS_RANGE },
  refreshGraceMaxUses: { type: 'int', ...GRACE_MAX_USES_RANGE },
  sessionIdleSeconds: SECONDS,
  sessionAbsoluteSeconds: SECONDS,
  refreshTokenDelivery: { type: 'enum', values: ['body', 'cookie'] },
  webOrigins: { type: 'strings' },
  requireMfa: { type: 'boolean' },
  requireVerifiedEmail: { type: 'boolean' },
  signUp: { type: 'boolean' },
} as const satisfies Spec

const API = {
  audience: { type: 'string', max: 255 },
  name: { type: 'string', max: 200 },
  scopes: { type: 'strings' },
  accessTokenTtlSeconds: SECONDS,
  userClaims: { type: 'strings' },
  requireMfa: { type: 'boolean' },
} as const satisfies Spec

const id = (c: Call, name = 'id'): string => c.req.params[name] ?? ''

/** Every route of the Admin API, relative to ADMIN_API_PREFIX. */
export const ROUTES: Route[] = [
  // users
  {
    method: 'GET',
    url: '/users',
    async handler(c) {
      const q = queryOf(c.req, {
        search: { type: 'string', max: 128 },
        limit: LIMIT,
        cursor: CURSOR,
      })
      const page = await c.admin.users.list(q)
      return { users: page.items, nextCursor: page.nextCursor }
    },
  },
  {
    method: 'POST',
    url: '/users',
    async handler(c) {
      const b = jsonBody(c.req, NEW_USER, ['username', 'password'])
      const user = await c.admin.users.create(c.actor, {
        username: b.username ?? '',
        password: b.password ?? '',
        email: b.email ?? null,
        name: b.name ?? null,
        ...(b.metadata !== undefined ? { metadata: b.metadata } : {}),
      })
      c.reply.code(201)
      return user
    },
  },
  { method: 'GET', url: '/users/:id', handler: (c) => c.admin.users.get(id(c)) },
  {
    method: 'PATCH',
    url: '/users/:id',
    handler: (c) => c.admin.users.update(c.actor, id(c), jsonBody(c.req, USER_FIELDS)),
  },
  {
    method: 'DELETE',
    url: '/users/:id',
    handler: (c) => c.admin.users.delete(c.actor, id(c)),
  },
  {
    method: 'POST',
    url: '/users/:id/disable',
    handler: (c) => (noBody(c.req), c.admin.users.disable(c.actor, id(c))),
  },
  {
    method: 'POST',
    url: '/users/:id/enable',
    handler: (c) => (noBody(c.req), c.admin.users.enable(c.actor, id(c))),
  },
  {
    method: 'POST',
    url: '/users/:id/password',
    handler: (c) => {
      const b = jsonBody(c.req, { password: { type: 'string', max: 1024 } }, ['password'])
      return c.admin.users.setPassword(c.actor, id(c), b.password ?? '')
    },
  },
  { method: 'GET', url: '/users/:id/mfa', handler: (c) => c.admin.users.mfa(id(c)) },
  {
    method: 'DELETE',
    url: '/users/:id/mfa',
    handler: (c) => (noBody(c.req), c.admin.users.resetMfa(c.actor, id(c))),
  },
  {
    method: 'POST',
    url: '/users/:id/verification-email',
    handler: async (c) => (
      noBody(c.req),
      c.reply.code(202),
      accountAdmin(c).resendVerification(c.actor, id(c))
    ),
  },
  {
    method: 'POST',
    url: '/users/:id/password-reset-email',
    handler: async (c) => (
      noBody(c.req),
      c.reply.code(202),
      accountAdmin(c).sendPasswordReset(c.actor, id(c))
    ),
  },
  {
    method: 'GET',
    url: '/settings/sign-up',
    handler: (c) => accountAdmin(c).signUp(),
  },
  {
    method: 'PUT',
    url: '/settings/sign-up',
    handler: (c) => {
      const b = jsonBody(c.req, { enabled: { type: 'boolean', nullable: true } })
      if (b.enabled === undefined)
        throw new InvalidRequest('enabled is required (true, false or null)')
      return accountAdmin(c).setSignUp(c.actor, b.enabled)
    },
  },
  {
    method: 'POST',
    url: '/users/:id/sessions/revoke',
    handler: (c) => (noBody(c.req), c.admin.users.revokeSessions(c.actor, id(c))),
  },
  {
    method: 'GET',
    url: '/users/:id/passkeys',
    handler: async (c) => ({ passkeys: await c.admin.passkeys.list(id(c)) }),
  },
  {
    method: 'DELETE',
    url: '/users/:id/passkeys/:passkeyId',
    handler: (c) => c.admin.passkeys.remove(c.actor, id(c), id(c, 'passkeyId')),
  },
  {
    method: 'GET',
    url: '/users/:id/device-keys',
    handler: async (c) => ({ deviceKeys: await c.admin.deviceKeys.list(id(c)) }),
  },
  {
    method: 'DELETE',
    url: '/users/:id/device-keys/:deviceKeyId',
    handler: (c) => c.admin.deviceKeys.remove(c.actor, id(c), id(c, 'deviceKeyId')),
  },

  // sessions
  {
    method: 'GET',
    url: '/sessions',
    async handler(c) {
      const q = queryOf(c.req, {
        user: { type: 'string', max: 200 },
        client: { type: 'string', max: 128 },
        state: { type: 'enum', values: SESSION_STATES },
        limit: LIMIT,
        cursor: CURSOR,
      })
      const page = await c.admin.sessions.list({
        userId: q.user,
        clientId: q.client,
        state: q.state,
        limit: q.limit,
        cursor: q.cursor,
      })
      return { sessions: page.items, nextCursor: page.nextCursor }
    },
  },
  { method: 'GET', url: '/sessions/:id', handler: (c) => c.admin.sessions.get(id(c)) },
  {
    method: 'POST',
    url: '/sessions/:id/revoke',
    handler: (c) => (noBody(c.req), c.admin.sessions.revoke(c.actor, id(c))),
  },

  // security events
  {
    method: 'GET',
    url: '/events',
    async handler(c) {
      const q = queryOf(c.req, {
        type: { type: 'enum', values: EVENT_TYPES },
        user: { type: 'string', max: 200 },
        client: { type: 'string', max: 128 },
        session: { type: 'string', max: 200 },
        since: { type: 'time' },
        before: { type: 'time' },
        limit: LIMIT,
        cursor: CURSOR,
      })
      const page = await c.admin.events.list({
        type: q.type,
        userId: q.user,
        clientId: q.client,
        sessionId: q.session,
        since: q.since,
        before: q.before,
        limit: q.limit,
        cursor: q.cursor,
      })
      return { events: page.items, nextCursor: page.nextCursor }
    },
  },

  // clients
  {
    method: 'GET',
    url: '/clients',
    handler: async (c) => ({ clients: await c.admin.clients.list() }),
  },
  {
    method: 'POST',
    url: '/clients',
    async handler(c) {
      const created = await c.admin.clients.create(
        c.actor,
        jsonBody(c.req, CLIENT, ['id']) as ClientInput,
      )
      c.reply.code(201)
      return created
    },
  },
  { method: 'GET', url: '/clients/:id', handler: (c) => c.admin.clients.get(id(c)) },
  {
    method: 'PUT',
    url: '/clients/:id',
    handler: (c) => c.admin.clients.replace(c.actor, id(c), jsonBody(c.req, CLIENT) as ClientInput),
  },
  {
    method: 'DELETE',
    url: '/clients/:id',
    handler: (c) => c.admin.clients.delete(c.actor, id(c)),
  },
  {
    method: 'POST',
    url: '/clients/:id/secret',
    handler: (c) => (noBody(c.req), c.admin.clients.rotateSecret(c.actor, id(c))),
  },

  // APIs (audiences); the audience is URL-encoded in the path
  { method: 'GET', url: '/apis', handler: async (c) => ({ apis: await c.admin.apis.list() }) },
  {
    method: 'POST',
    url: '/apis',
    async handler(c) {
      const b = jsonBody(c.req, API, ['audience'])
      const created = await c.admin.apis.create(c.actor, { ...b, audience: b.audience ?? '' })
      c.reply.code(201)
      return created
    },
  },
  { method: 'GET', url: '/apis/:audience', handler: (c) => c.admin.apis.get(id(c, 'audience')) },
  {
    method: 'PUT',
    url: '/apis/:audience',
    handler: (c) => c.admin.apis.replace(c.actor, id(c, 'audience'), jsonBody(c.req, API)),
  },
  {
    method: 'DELETE',
    url: '/apis/:audience',
    handler: (c) => c.admin.apis.delete(c.actor, id(c, 'audience')),
  },
]

function unauthorized(description: string, invalidKey: boolean): OAuthError {
  const e = new InvalidToken(description)
  e.headers['www-authenticate'] = invalidKey
    ? 'Bearer realm="tessera-admin", error="invalid_token"'
    : 'Bearer realm="tessera-admin"'
  return e
}

/** Route module: the Admin API, in its own Fastify scope (own hooks, error and 404 handlers). */
export function adminApiRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const admin = new AdminServices(ctx)
  const accounts = new AccountAdmin(ctx)

  const authenticate = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('cache-control', 'no-store')
    const header = req.headers.authorization
    if (header === undefined) {
      throw unauthorized('this API needs an admin key: Authorization: Bearer <key>', false)
    }
    const m = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header)
    if (!m) throw unauthorized('the Authorization header must be Bearer <admin key>', false)
    const ip = clientIp(req, ctx.config.trustProxy)
    const ua = userAgent(req)
    // The key is checked first: wrong keys from others never keep a valid key out (a proxy that
    // is not in trustProxy makes every admin one address). Past the limit, wrong keys get 429.
    const throttle = [admin.auth.throttleKey(ip)]
    const principal = await admin.auth.authenticate(m[1] as string)
    if (!principal) {
      await ctx.throttle.check(throttle)
      await ctx.throttle.fail(throttle)
      await ctx.store.recordEvent(
        ctx.events.make('admin_auth_failure', { ip, userAgent: ua, data: { via: 'api' } }),
      )
      throw unauthorized('the admin key is not valid', true)
    }
    req.adminActor = {
      kind: 'api_key',
      id: principal.keyId,
      name: principal.name,
      via: 'api',
      ip,
      userAgent: ua,
    }
  }

  void app.register(
    (scope, _opts, done) => {
      scope.addHook('onRequest', authenticate)
      scope.setErrorHandler((err, req, reply) => {
        const code = (err as { code?: unknown }).code
        const oe =
          code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
            ? new InvalidRequest('the request body must be JSON (Content-Type: application/json)')
            : toOAuthError(err)
        if (oe.status >= 500) req.log.error({ err, route: req.routeOptions.url }, 'request failed')
        return sendOAuthError(reply, oe)
      })
      scope.setNotFoundHandler((_req, reply) =>
        reply
          .code(404)
          .header('cache-control', 'no-store')
          .header('content-type', 'application/json; charset=utf-8')
          .send(JSON.stringify({ error: 'not_found', error_description: 'no such endpoint' })),
      )
      for (const r of ROUTES) {
        scope.route<{ Params: Record<string, string> }>({
          method: r.method,
          url: r.url,
          handler: async (req, reply) => {
            const actor = req.adminActor
            if (!actor) throw unauthorized('this API needs an admin key', false)
            const body = await r.handler({ req, reply, admin, actor, accounts })
            return reply
              .header('content-type', 'application/json; charset=utf-8')
              .send(JSON.stringify(body))
          },
        })
      }
      done()
    },
    { prefix: ADMIN_API_PREFIX },
  )
}
