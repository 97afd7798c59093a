/**
 * The admin console at `/admin`: server-rendered pages with plain forms, no JavaScript. An admin
 * signs in once with an admin key (console-session.ts), then sees users, sessions with their state,
 * end reason and times, and security events, and can revoke a session, sign a user out everywhere,
 * and disable or enable a user. Every action goes through the admin services (the same as the
 * Admin API and the CLI) and records a security event naming the key, `via: console`.
 *
 * | route | what |
 * |---|---|
 * | `GET /admin` | to the users page, or to the sign-in page |
 * | `GET, POST /admin/sign-in` | the admin key form (CSRF, throttled per IP, one generic error) |
 * | `POST /admin/sign-out` | ends the console session |
 * | `GET /admin/users` | users, searchable, paged |
 * | `GET /admin/users/:id` | a user and their sessions |
 * | `POST /admin/users/:id/disable`, `/enable`, `/revoke-sessions`, `/reset-mfa`, `/verification-email`, `/password-reset-email` | actions on a user |
 * | `POST /admin/users/:id/passkeys/:passkeyId/remove` | removes one passkey of the user |
 * | `GET /admin/sessions` | sessions, filterable by user, client and state, paged |
 * | `POST /admin/sessions/:id/revoke` | revokes one session |
 * | `GET /admin/events` | security events, filterable by type, user, client and session, paged |
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import { param, type Params } from '../../http/form.js'
import { clientIp, userAgent } from '../../http/request-info.js'
import { issueCsrfToken, verifyCsrfToken } from '../../login/csrf.js'
import { formParams, queryParams } from '../../oauth/authorize/query-params.js'
import { InvalidRequest, OAuthError } from '../../oauth/errors.js'
import { toOAuthError } from '../../http/app.js'
import type { Actor } from '../actor.js'
import { adminEvent } from '../actor.js'
import { AdminServices } from '../admin-services.js'
import { readParams } from '../api/json-input.js'
import { EVENT_TYPES } from '../services/event-admin.js'
import { SESSION_STATES } from '../services/session-admin.js'
import { link, sendConsolePage, type Frame, type Section } from './console-layout.js'
import {
  csrfMatches,
  endConsoleSession,
  readConsoleSession,
  startConsoleSession,
  type ConsoleSignIn,
} from './console-session.js'
import { AccountAdmin } from '../services/account-admin.js'
import { eventsBody, sessionsBody, signInBody, userBody, usersBody } from './console-views.js'

const PAGE_SIZE = 50

/** What a finished action says on the page it returns to (never text from the request). */
const DONE = {
  disabled: 'The user is disabled and signed out everywhere.',
  enabled: 'The user is enabled.',
  'signed-out': 'Every session of the user is revoked.',
  revoked: 'The session is revoked.',
  'mfa-reset': 'Two-step verification is reset: the authenticator and recovery codes are removed.',
  'passkey-removed': 'The passkey is removed: it can no longer sign in.',
  'verification-sent': 'A new verification link is on its way to the user.',
  'reset-sent': 'A password reset link is on its way to the user.',
} as const
type Done = keyof typeof DONE
const DONE_VALUES = Object.keys(DONE) as Done[]

const SIGN_IN_FAILED = 'That admin key is not valid.'
const BACK = /^\/admin\/(sessions|users\/[A-Za-z0-9_-]{1,200})(\?[A-Za-z0-9_.~%=&+-]{0,1500})?$/

export function adminConsoleRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const admin = new AdminServices(ctx)
  // On the public listener the console's links are absolute under the issuer (which may carry a
  // path a proxy strips); on the internal admin listener (admin.port) they are root-relative, so
  // they work at whatever address operators reach that listener by.
  const origin = ctx.config.admin.port === undefined ? ctx.config.issuer : ''
  const base = origin + '/admin'
  const accounts = new AccountAdmin(ctx)

  const redirect = (reply: FastifyReply, to: string): FastifyReply =>
    reply
      .code(303)
      .header('location', to)
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .send()

  const frame = (title: string, s?: ConsoleSignIn, section?: Section, notice?: string): Frame => ({
    issuer: origin,
    title,
    ...(s ? { signIn: s } : {}),
    ...(section ? { section } : {}),
    ...(notice ? { notice } : {}),
  })

  const actorOf = (req: FastifyRequest, s: ConsoleSignIn): Actor => ({
    kind: 'api_key',
    id: s.principal.keyId,
    name: s.principal.name,
    via: 'console',
    ip: clientIp(req, ctx.config.trustProxy),
    userAgent: userAgent(req),
  })

  const signInForm = (req: FastifyRequest, reply: FastifyReply, status: number, alert?: string) =>
    sendConsolePage(
      reply,
      status,
      { ...frame('Sign in'), ...(alert ? { alert } : {}) },
      signInBody(base + '/sign-in', issueCsrfToken(ctx, req, reply, 'admin-sign-in', 'console')),
    )

  type Page = (
    req: FastifyRequest,
    reply: FastifyReply,
    s: ConsoleSignIn,
    q: Params,
  ) => Promise<FastifyReply>
  /** A page for signed-in admins; anyone else is sent to the sign-in form. */
  const page =
    (render: Page) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const s = await readConsoleSession(ctx, admin.auth, req)
      if (!s) return redirect(reply, base + '/sign-in')
      return render(req, reply, s, queryParams(req))
    }

  type Action = (
    req: FastifyRequest,
    reply: FastifyReply,
    s: ConsoleSignIn,
    form: Params,
  ) => Promise<string>
  /** A POST of a signed-in admin: CSRF-checked, then redirected to the path the action returns. */
  const action =
    (run: Action) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
      const s = await readConsoleSession(ctx, admin.auth, req)
      if (!s) return redirect(reply, base + '/sign-in')
      const form = formParams(req)
      if (!form) throw new InvalidRequest('the request body must be a form')
      if (!csrfMatches(s, param(form, 'csrf', 128))) {
        return sendConsolePage(
          reply,
          403,
          frame('Form expired', s),
          `<h1>Form expired</h1><p>This form has expired. Go back, reload the page and try again.</p>`,
        )
      }
      try {
        return redirect(reply, origin + (await run(req, reply, s, form)))
      } catch (err) {
        // The services' refusals (a session ended meanwhile, a user disabled already) are shown.
        if (!(err instanceof OAuthError) || err.status >= 500 || err.status === 429) throw err
        return sendConsolePage(
          reply,
          err.status,
          { ...frame('Not done', s), alert: err.description },
          `<h1>Not done</h1><p>${link(base + '/sessions', 'Back to the sessions')}</p>`,
        )
      }
    }

  const userPath = (id: string) => `/admin/users/${encodeURIComponent(id)}`
  const id = (req: FastifyRequest): string => (req.params as { id?: string }).id ?? ''

  /** The page's own path and query, minus `done` and `cursor`, for forms that come back to it. */
  const backTo = (path: string, q: Record<string, string | undefined>): string => {
    const sp = new URLSearchParams()
    for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') sp.set(k, v)
    const qs = sp.toString()
    return qs === '' ? path : `${path}?${qs}`
  }
  const withDone = (path: string, done: Done) =>
    `${path}${path.includes('?') ? '&' : '?'}done=${done}`

  void app.register(
    (scope, _opts, done) => {
      scope.setErrorHandler((err, req, reply) => {
        const oe = toOAuthError(err)
        if (oe.status >= 500) req.log.error({ err, route: req.routeOptions.url }, 'request failed')
        for (const [k, v] of Object.entries(oe.headers)) reply.header(k, v)
        const message = oe.status >= 500 ? 'Something went wrong. Try again later.' : oe.description
        return sendConsolePage(
          reply,
          oe.status,
          { ...frame('Error'), alert: message },
          `<h1>Error</h1><p>${link(base + '/users', 'Back to the console')}</p>`,
        )
      })
      scope.setNotFoundHandler((_req, reply) =>
        sendConsolePage(
          reply,
          404,
          frame('Not found'),
          `<h1>Not found</h1><p>${link(base + '/users', 'Back to the console')}</p>`,
        ),
      )

      scope.get('/', async (req, reply) => {
        const s = await readConsoleSession(ctx, admin.auth, req)
        return redirect(reply, base + (s ? '/users' : '/sign-in'))
      })

      scope.get('/sign-in', async (req, reply) => {
        if (await readConsoleSession(ctx, admin.auth, req)) return redirect(reply, base + '/users')
        const q = readParams(queryParams(req), { signed_out: { type: 'enum', values: ['1'] } })
        return sendConsolePage(
          reply,
          200,
          frame('Sign in', undefined, undefined, q.signed_out ? 'You are signed out.' : undefined),
          signInBody(
            base + '/sign-in',
            issueCsrfToken(ctx, req, reply, 'admin-sign-in', 'console'),
          ),
        )
      })

      scope.post('/sign-in', async (req, reply) => {
        const form = formParams(req)
        if (!form) throw new InvalidRequest('the request body must be a form')
        if (!verifyCsrfToken(ctx, req, param(form, 'csrf', 128), 'admin-sign-in', 'console')) {
          return signInForm(req, reply, 403, 'This form has expired. Please sign in again.')
        }
        const key = param(form, 'key', 512)
        if (key === undefined) return signInForm(req, reply, 400, 'Enter an admin key.')
        const ip = clientIp(req, ctx.config.trustProxy)
        const ua = userAgent(req)
        // As at the Admin API: a valid key always signs in; past the limit, wrong keys get 429.
        const throttle = [admin.auth.throttleKey(ip)]
        const principal = await admin.auth.authenticate(key)
        if (!principal) {
          const over = await ctx.throttle.exceeded(throttle)
          if (over) {
            const retry = ctx.throttle.refusal(over).headers['retry-after'] ?? '60'
            const minutes = Math.max(1, Math.ceil(Number(retry) / 60))
            reply.header('retry-after', retry)
            return signInForm(
              req,
              reply,
              429,
              `Too many attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
            )
          }
          await ctx.throttle.fail(throttle)
          await ctx.store.recordEvent(
            ctx.events.make('admin_auth_failure', { ip, userAgent: ua, data: { via: 'console' } }),
          )
          return signInForm(req, reply, 401, SIGN_IN_FAILED)
        }
        const actor: Actor = {
          kind: 'api_key',
          id: principal.keyId,
          name: principal.name,
          via: 'console',
          ip,
          userAgent: ua,
        }
        await startConsoleSession(
          ctx,
          req,
          reply,
          principal,
          adminEvent(ctx, actor, 'admin_sign_in', {}),
        )
        return redirect(reply, base + '/users')
      })

      scope.post(
        '/sign-out',
        action(async (req, reply, s) => {
          const event = adminEvent(ctx, actorOf(req, s), 'admin_sign_out', {})
          await endConsoleSession(ctx, reply, s, event)
          return '/admin/sign-in?signed_out=1'
        }),
      )

      scope.get(
        '/users',
        page(async (_req, reply, s, p) => {
          const q = readParams(p, {
            search: { type: 'string', max: 128 },
            cursor: { type: 'string', max: 700 },
          })
          const list = await admin.users.list({
            search: q.search,
            cursor: q.cursor,
            limit: PAGE_SIZE,
          })
          const next = list.nextCursor
            ? `${base}/users?${new URLSearchParams({ ...(q.search ? { search: q.search } : {}), cursor: list.nextCursor })}`
            : null
          return sendConsolePage(
            reply,
            200,
            frame('Users', s, 'users'),
            usersBody(base, list.items, q.search, next),
          )
        }),
      )

      scope.get(
        '/users/:id',
        page(async (req, reply, s, p) => {
          const q = readParams(p, { done: { type: 'enum', values: DONE_VALUES } })
          const user = await admin.users.get(id(req))
          const sessions = await admin.sessions.list({ userId: user.id, limit: PAGE_SIZE })
          const mfa = await admin.users.mfa(user.id)
          const passkeys = await admin.passkeys.list(user.id)
          return sendConsolePage(
            reply,
            200,
            frame(user.username, s, 'users', q.done ? DONE[q.done] : undefined),
            userBody(base, s, user, sessions.items, userPath(user.id), mfa, passkeys),
          )
        }),
      )

      scope.post(
        '/users/:id/disable',
        action(async (req, _reply, s) => {
          const r = await admin.users.disable(actorOf(req, s), id(req))
          return withDone(userPath(r.user.id), 'disabled')
        }),
      )
      scope.post(
        '/users/:id/enable',
        action(async (req, _reply, s) => {
          const u = await admin.users.enable(actorOf(req, s), id(req))
          return withDone(userPath(u.id), 'enabled')
        }),
      )
      scope.post(
        '/users/:id/reset-mfa',
        action(async (req, _reply, s) => {
          await admin.users.resetMfa(actorOf(req, s), id(req))
          return withDone(userPath(id(req)), 'mfa-reset')
        }),
      )
      scope.post(
        '/users/:id/passkeys/:passkeyId/remove',
        action(async (req, _reply, s) => {
          const { passkeyId = '' } = req.params as { passkeyId?: string }
          await admin.passkeys.remove(actorOf(req, s), id(req), passkeyId)
          return withDone(userPath(id(req)), 'passkey-removed')
        }),
      )
      scope.post(
        '/users/:id/verification-email',
        action(async (req, _reply, s) => {
          await accounts.resendVerification(actorOf(req, s), id(req))
          return withDone(userPath(id(req)), 'verification-sent')
        }),
      )
      scope.post(
        '/users/:id/password-reset-email',
        action(async (req, _reply, s) => {
          await accounts.sendPasswordReset(actorOf(req, s), id(req))
          return withDone(userPath(id(req)), 'reset-sent')
        }),
      )
      scope.post(
        '/users/:id/revoke-sessions',
        action(async (req, _reply, s) => {
          await admin.users.revokeSessions(actorOf(req, s), id(req))
          return withDone(userPath(id(req)), 'signed-out')
        }),
      )

      scope.get(
        '/sessions',
        page(async (_req, reply, s, p) => {
          const q = readParams(p, {
            user: { type: 'string', max: 200 },
            client: { type: 'string', max: 128 },
            state: { type: 'enum', values: SESSION_STATES },
            cursor: { type: 'string', max: 700 },
            done: { type: 'enum', values: DONE_VALUES },
          })
          const list = await admin.sessions.list({
            userId: q.user,
            clientId: q.client,
            state: q.state,
            cursor: q.cursor,
            limit: PAGE_SIZE,
          })
          const usernames = new Map<string, string>()
          for (const userId of new Set(list.items.map((x) => x.userId))) {
            const u = await ctx.store.getUser(userId)
            if (u) usernames.set(userId, u.username)
          }
          const filters = { user: q.user, client: q.client, state: q.state }
          const next = list.nextCursor
            ? origin + backTo('/admin/sessions', { ...filters, cursor: list.nextCursor })
            : null
          return sendConsolePage(
            reply,
            200,
            frame('Sessions', s, 'sessions', q.done ? DONE[q.done] : undefined),
            sessionsBody(
              base,
              s,
              list.items,
              usernames,
              filters,
              backTo('/admin/sessions', filters),
              next,
            ),
          )
        }),
      )

      scope.post(
        '/sessions/:id/revoke',
        action(async (req, _reply, s, form) => {
          const back = param(form, 'back', 2000) ?? '/admin/sessions'
          if (!BACK.test(back)) throw new InvalidRequest('back is not a page of the console')
          await admin.sessions.revoke(actorOf(req, s), id(req))
          return withDone(back, 'revoked')
        }),
      )

      scope.get(
        '/events',
        page(async (_req, reply, s, p) => {
          const q = readParams(p, {
            type: { type: 'enum', values: EVENT_TYPES },
            user: { type: 'string', max: 200 },
            client: { type: 'string', max: 128 },
            session: { type: 'string', max: 200 },
            cursor: { type: 'string', max: 700 },
          })
          const list = await admin.events.list({
            type: q.type,
            userId: q.user,
            clientId: q.client,
            sessionId: q.session,
            cursor: q.cursor,
            limit: PAGE_SIZE,
          })
          const filters = { type: q.type, user: q.user, client: q.client, session: q.session }
          const next = list.nextCursor
            ? origin + backTo('/admin/events', { ...filters, cursor: list.nextCursor })
            : null
          return sendConsolePage(
            reply,
            200,
            frame('Security events', s, 'events'),
            eventsBody(base, list.items, filters, next),
          )
        }),
      )
      done()
    },
    { prefix: '/admin' },
  )
}
