import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { ServerContext } from '../context.js'
import { authChallenge, presentedToken } from '../oauth/bearer.js'
import { InvalidToken } from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import { judgeSession } from '../sessions/lifecycle.js'
import { verifyOwnJwt } from '../tokens/verify-own-token.js'
import { DEMO_CLIENT_ID, PLAYGROUND_CALLBACK_PATH, PLAYGROUND_SESSION_PATH } from './demo.js'
import {
  PLAYGROUND_ASSET_PATHS,
  playgroundPage,
  type PlaygroundSettings,
} from './playground-page.js'

/**
 * The page's two scripts, built by `scripts/build-playground.ts` into the package's
 * `dist/dev/playground/` (shipped in the tarball). This file is `src/dev/` or `dist/dev/`, two
 * levels under the package either way, so the same URL finds them when running from sources.
 */
const ASSETS = new URL('../../dist/dev/playground/', import.meta.url)
const ASSET_FILES: Record<string, string> = {
  [PLAYGROUND_ASSET_PATHS.client]: 'tessera-client.js',
  [PLAYGROUND_ASSET_PATHS.app]: 'app.js',
}

/**
 * Dev mode only: the playground at `/` (and its sign-in callback), a page built on
 * `@tessera/client` that signs in to the demo client and shows the session, the tokens, the
 * client's snapshot and events and its requests; the page's scripts (`/playground/app.js` and the
 * client bundle, `/playground/tessera-client.js`); and `/playground/session`, which reports the
 * state of the session behind a bearer access token. Registered only when `config.dev` is set.
 */
export function playgroundRoutes(app: FastifyInstance, ctx: ServerContext): void {
  if (!ctx.config.dev) return
  const client = ctx.config.clients.find((c) => c.id === DEMO_CLIENT_ID)
  if (!client) {
    ctx.log.warn({ clientId: DEMO_CLIENT_ID }, 'dev mode without the demo client: no playground')
    return
  }
  const issuer = ctx.config.issuer
  const settings: PlaygroundSettings = {
    issuer,
    clientId: client.id,
    redirectUri: issuer + PLAYGROUND_CALLBACK_PATH,
    postLogoutRedirectUri: issuer + '/',
    scope: (client.scopes ?? []).join(' '),
    apis: ctx.config.apis
      .filter((a) => client.audiences?.includes(a.audience))
      .map((a) => ({ audience: a.audience, name: a.name ?? a.audience, scopes: a.scopes ?? [] })),
    paths: {
      authorize: PATHS.authorize,
      token: PATHS.token,
      revoke: PATHS.revoke,
      userinfo: PATHS.userinfo,
      endSession: PATHS.endSession,
      session: PLAYGROUND_SESSION_PATH,
      callback: PLAYGROUND_CALLBACK_PATH,
    },
  }

  const page = (reply: FastifyReply): FastifyReply => {
    const nonce = ctx.random.bytes(16).toString('base64url')
    return reply
      .header('content-type', 'text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        [
          "default-src 'none'",
          // The nonce admits the import map and the module; 'self' the modules it imports.
          `script-src 'nonce-${nonce}' 'self'`,
          `style-src 'nonce-${nonce}'`,
          "connect-src 'self'",
          "img-src 'self'",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; '),
      )
      .header('x-frame-options', 'DENY')
      .send(playgroundPage(settings, nonce))
  }
  for (const [path, file] of Object.entries(ASSET_FILES)) {
    app.get(path, async (_req, reply) => {
      const body = await readFile(new URL(file, ASSETS)).catch(() => undefined)
      if (body === undefined) {
        ctx.log.error(
          { file: fileURLToPath(new URL(file, ASSETS)) },
          'the playground is not built: run `npm run build` (it builds the playground too)',
        )
        return reply
          .code(503)
          .header('content-type', 'text/javascript; charset=utf-8')
          .header('cache-control', 'no-store')
          .send(
            `document.getElementById('error').hidden = false;\n` +
              `document.getElementById('error').textContent = ${JSON.stringify(
                `The playground's ${file} is not built. Run \`npm run build\` and reload.`,
              )};\n`,
          )
      }
      return reply
        .header('content-type', 'text/javascript; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .send(body)
    })
  }
  app.get('/', (_req, reply) => page(reply))
  app.get(PLAYGROUND_CALLBACK_PATH, (_req, reply) => page(reply))
  // Browsers ask for it on every page load; answering saves a 404 in the console.
  app.get('/favicon.ico', (_req, reply) =>
    reply.code(204).header('cache-control', 'max-age=86400').send(),
  )

  // Unlike /userinfo it answers for ended sessions too: showing why a session ended is the point.
  app.get(PLAYGROUND_SESSION_PATH, async (req, reply) => {
    // The demo client uses bearer tokens; a DPoP token would need its proof checked here.
    const presented = presentedToken(ctx, req)
    const claims =
      presented.scheme === 'Bearer'
        ? await verifyOwnJwt(ctx, presented.token, 'at+jwt', issuer)
        : undefined
    const session =
      claims && typeof claims.sid === 'string' ? await ctx.store.getSession(claims.sid) : undefined
    if (!claims || !session || session.userId !== claims.sub) {
      throw authChallenge(
        ctx,
        new InvalidToken('the access token is invalid, expired or has no session'),
        'Bearer',
      )
    }
    // The state as decided now: a session past its lifetime is reported expired (or abandoned)
    // even before a refresh or the maintenance sweep has written that down.
    const now = ctx.clock.now()
    const verdict = judgeSession(session, now)
    return reply.header('cache-control', 'no-store').send({
      sid: session.id,
      clientId: session.clientId,
      state: verdict.live ? session.state : verdict.state,
      reason: verdict.live ? session.reason : verdict.reason,
      scope: session.scope,
      resources: session.resources,
      createdAt: session.createdAt,
      lastActiveAt: session.lastActiveAt,
      expiresAt: session.expiresAt,
      idleExpiresAt: session.lastActiveAt + session.idleSeconds * 1000,
      endedAt: verdict.live ? null : verdict.at,
      generation: session.generation,
      now,
    })
  })
}
