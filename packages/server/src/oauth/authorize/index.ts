/**
 * The authorization endpoint (`/authorize`, GET and POST): OAuth 2.1 authorization code flow with
 * PKCE S256, OpenID Connect parameters, RFC 8707 resources and RFC 9207 `iss`.
 *
 * A request goes through the two tables below, in order, then through authentication:
 *
 * 1. TRUST_CHECKS establish the client and the redirect URI. Until both are trusted an error is an
 *    HTML page and nothing is redirected (RDR-01, RDR-04, RDR-05).
 * 2. REQUEST_CHECKS validate the request itself. Their first error goes to the redirect URI with
 *    `error`, `error_description`, `state` and `iss`, but only once the user has authenticated:
 *    an unauthenticated visitor is shown the sign-in form first, so a client cannot use a bad
 *    request to bounce people off the server (RDR-06, RFC 9700 4.11.2). The exception is
 *    prompt=none's login_required, which is what prompt=none asks for.
 * 3. Authentication: the SSO session, unless prompt=login / select_account, max_age or the lack of
 *    a session asks for the sign-in form (src/login). The form's POST comes back here with the
 *    fresh session, and the code is issued.
 * 4. Second factor (mfa-policy.ts): when the client, an API of the grant or `acr_values` wants
 *    one and the sign-in has none, a user with an authenticator is sent to the code step
 *    (`/login/otp`); a user without one gets a code whose session starts `pending`.
 *
 * @example
 * // GET /authorize?response_type=code&client_id=web-app&redirect_uri=...&scope=openid
 * //     &code_challenge=...&code_challenge_method=S256&state=...
 * // -> 303 https://app.example.test/callback?code=...&state=...&iss=https://auth.example.com
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 * @see https://www.rfc-editor.org/rfc/rfc9700#section-4.11.2
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../../context.js'
import type { Params } from '../../http/form.js'
import { frontChannelHeaders, htmlErrors } from '../../login/page.js'
import { LoginTransactionCodec } from '../../login/login-transaction.js'
import { readBrowserSession, type ActiveBrowserSession } from '../../sessions/browser-session.js'
import {
  InteractionRequired,
  InvalidRequest,
  LoginRequired,
  OAuthError,
  safeDescription,
} from '../errors.js'
import { PATHS } from '../paths.js'
import type { AuthorizeCheck } from './authorize-check.js'
import { isTrusted, newAuthorizationRequest, type TrustedRequest } from './authorization-request.js'
import { confirmedTotp, hasSecondFactor } from '../../mfa/second-factor.js'
import { checkAcrValues } from './checks/check-acr-values.js'
import { checkClient } from './checks/check-client.js'
import { checkDpopJkt } from './checks/check-dpop-jkt.js'
import { checkGrantType } from './checks/check-grant-type.js'
import { checkLoginHint } from './checks/check-login-hint.js'
import { checkMaxAge } from './checks/check-max-age.js'
import { checkNonce } from './checks/check-nonce.js'
import { checkParameters } from './checks/check-parameters.js'
import { checkPkce } from './checks/check-pkce.js'
import { checkPrompt } from './checks/check-prompt.js'
import { checkRedirectUri } from './checks/check-redirect-uri.js'
import { checkRequestObject } from './checks/check-request-object.js'
import { checkResource } from './checks/check-resource.js'
import { checkResponseMode } from './checks/check-response-mode.js'
import { checkResponseType } from './checks/check-response-type.js'
import { checkScope } from './checks/check-scope.js'
import { checkState } from './checks/check-state.js'
import { issueCode } from './issue-code.js'
import { mfaWanted } from './mfa-policy.js'
import { formParams, queryParams } from './query-params.js'
import { redirectToClient } from './redirect-to-client.js'

/** Until these pass, errors are an HTML page, never a redirect. */
export const TRUST_CHECKS: readonly AuthorizeCheck[] = [
  checkParameters, //   no repeated parameter, bounded values
  checkClient, //       client_id registered (RDR-05)
  checkRedirectUri, //  exact match, loopback port aside; required with several (RDR-01/02/04)
  checkState, //        echoed from here on
]

/** Errors here go to the redirect URI, after authentication; the first in this order wins. */
export const REQUEST_CHECKS: readonly AuthorizeCheck[] = [
  checkRequestObject, // request / request_uri not supported
  checkResponseType, //  code only (RDR-07)
  checkResponseMode, //  query only
  checkGrantType, //     client registered for authorization_code
  checkPkce, //          code_challenge + S256 required (PKCE-01/02/06)
  checkScope, //         required, subset of the client's scopes
  checkResource, //      resource / audience among the client's audiences (RFC 8707)
  checkNonce,
  checkPrompt, //        none | login | consent | select_account
  checkMaxAge,
  checkLoginHint,
  checkDpopJkt, //       dpop_jkt is a JWK thumbprint (RFC 9449 10)
  checkAcrValues, //     acr_values: urn:tessera:acr:mfa asks for a second factor
]

/**
 * Runs an authorization request to its answer: a code, an error redirect, the sign-in form, or an
 * error page (thrown). `fresh` is the browser session the sign-in form has just created.
 */
export async function authorize(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  params: Params,
  fresh?: ActiveBrowserSession,
): Promise<FastifyReply> {
  const r = newAuthorizationRequest(params)
  for (const check of TRUST_CHECKS) await check(r, ctx)
  if (!isTrusted(r)) throw new InvalidRequest('missing required parameter client_id')

  let pending: OAuthError | undefined
  for (const check of REQUEST_CHECKS) {
    try {
      await check(r, ctx)
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err
      pending ??= err
    }
  }

  const session = fresh ?? (await readBrowserSession(ctx, req))
  if (pending) {
    if (session) return redirectError(ctx, req, reply, r, pending)
    if (r.prompt.has('none')) return redirectError(ctx, req, reply, r, loginRequired())
    return toSignIn(ctx, reply, r)
  }
  if (!session || (!fresh && needsSignIn(ctx, r, session))) {
    if (r.prompt.has('none')) return redirectError(ctx, req, reply, r, loginRequired())
    return toSignIn(ctx, reply, r)
  }
  const mfaRequired = await mfaWanted(ctx, r)
  // A second factor is wanted, the sign-in has none and the user has an authenticator: ask for a
  // code. A user without one gets the code, and the session it starts is `pending` (setup-mfa).
  if (
    mfaRequired &&
    !hasSecondFactor(session.record.amr) &&
    (await confirmedTotp(ctx, session.user.id))
  ) {
    if (r.prompt.has('none')) {
      return redirectError(
        ctx,
        req,
        reply,
        r,
        new InteractionRequired('a second factor is required: the user must enter a code'),
      )
    }
    return toSecondFactor(ctx, reply, r)
  }
  const code = await issueCode(ctx, req, r, session, mfaRequired)
  return redirectToClient(ctx, reply, r.redirectUri, { code, state: r.state })
}

/** 303 to the second sign-in step, for the browser's current sign-in. */
function toSecondFactor(ctx: ServerContext, reply: FastifyReply, r: TrustedRequest): FastifyReply {
  const sealed = new LoginTransactionCodec(ctx.config.secrets).seal(
    r.params,
    ctx.clock.now(),
    ctx.random,
  )
  const url = `${ctx.config.issuer}${PATHS.loginOtp}?${new URLSearchParams({ tx: sealed })}`
  return frontChannelHeaders(reply).code(303).header('location', url).send()
}

/** Whether a live session still needs the sign-in form: prompt=login / select_account, max_age. */
function needsSignIn(ctx: ServerContext, r: TrustedRequest, s: ActiveBrowserSession): boolean {
  if (r.prompt.has('login') || r.prompt.has('select_account')) return true
  if (r.maxAge === undefined) return false
  // OIDC Core 3.1.2.1: max_age=0 is equivalent to prompt=login.
  if (r.maxAge === 0) return true
  return ctx.clock.now() - s.record.authTime > r.maxAge * 1000
}

function loginRequired(): LoginRequired {
  return new LoginRequired('the user is not signed in, or must sign in again')
}

function redirectError(
  ctx: ServerContext,
  req: FastifyRequest,
  reply: FastifyReply,
  r: TrustedRequest,
  err: OAuthError,
): FastifyReply {
  req.log.info(
    { error: err.error, detail: err.detail, client: r.client.id },
    'authorization refused',
  )
  return redirectToClient(ctx, reply, r.redirectUri, {
    error: err.error,
    error_description: safeDescription(err.description),
    state: r.state,
  })
}

/** 303 to the sign-in page, carrying the request as a signed, expiring transaction. */
function toSignIn(ctx: ServerContext, reply: FastifyReply, r: TrustedRequest): FastifyReply {
  const sealed = new LoginTransactionCodec(ctx.config.secrets).seal(
    r.params,
    ctx.clock.now(),
    ctx.random,
  )
  const url = `${ctx.config.issuer}${PATHS.login}?${new URLSearchParams({ tx: sealed })}`
  return frontChannelHeaders(reply).code(303).header('location', url).send()
}

/** `/authorize`: GET with a query, or POST with a form (OIDC Core 3.1.2.1). No CORS (RDR-12). */
export function authorizeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(PATHS.authorize, { onRequest: htmlErrors }, (req, reply) =>
    authorize(ctx, req, reply, queryParams(req)),
  )
  app.post(PATHS.authorize, { onRequest: htmlErrors }, (req, reply) => {
    const params = formParams(req)
    if (!params) throw new InvalidRequest('the request body must be a form')
    return authorize(ctx, req, reply, params)
  })
}
