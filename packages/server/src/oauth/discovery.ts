import { ACR_VALUES } from '../mfa/second-factor.js'
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { corsPreflight } from '../http/app.js'
import { CATALOGUES } from '../login/i18n/locale.js'
import { PATHS } from './paths.js'
import { ACCOUNT_SESSIONS_SCOPE } from './token/audience.js'

/**
 * Discovery metadata (OpenID Connect Discovery 1.0 and RFC 8414) and the JWKS (RFC 7517).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8414#section-2
 */
export function metadata(ctx: ServerContext): Record<string, unknown> {
  const iss = ctx.config.issuer
  const scopes = new Set(['openid', 'profile', 'email', 'offline_access', ACCOUNT_SESSIONS_SCOPE])
  for (const api of ctx.config.apis) for (const s of api.scopes ?? []) scopes.add(s)
  return {
    issuer: iss,
    authorization_endpoint: iss + PATHS.authorize,
    token_endpoint: iss + PATHS.token,
    revocation_endpoint: iss + PATHS.revoke,
    introspection_endpoint: iss + PATHS.introspect,
    userinfo_endpoint: iss + PATHS.userinfo,
    jwks_uri: iss + PATHS.jwks,
    end_session_endpoint: iss + PATHS.endSession,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [ctx.config.signingAlg],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: [
      'none',
      'client_secret_basic',
      'client_secret_post',
    ],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    // The languages of the hosted pages (OIDC Discovery 1.0, 3), chosen by `ui_locales`.
    ui_locales_supported: Object.keys(CATALOGUES),
    dpop_signing_alg_values_supported: ctx.config.dpop.algorithms,
    scopes_supported: [...scopes],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'sid',
      'azp',
      'amr',
      'acr',
      'tessera_task',
      'at_hash',
      'name',
      'preferred_username',
      'updated_at',
      'email',
      'email_verified',
    ],
    prompt_values_supported: ['none', 'login'],
    acr_values_supported: [...ACR_VALUES],
    authorization_response_iss_parameter_supported: true,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    require_request_uri_registration: true,
    frontchannel_logout_supported: false,
    backchannel_logout_supported: false,
  }
}

export function discoveryRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const doc = JSON.stringify(metadata(ctx))
  for (const path of [PATHS.openidConfiguration, PATHS.oauthMetadata]) {
    corsPreflight(app, path, 'GET')
    app.get(path, (req, reply) => {
      reply
        .header('content-type', 'application/json; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(doc)
    })
  }
  corsPreflight(app, PATHS.jwks, 'GET')
  app.get(PATHS.jwks, async (req, reply) => {
    await ctx.keys.refreshIfStale()
    reply
      .header('content-type', 'application/jwk-set+json; charset=utf-8')
      .header('cache-control', `public, max-age=${ctx.config.jwksMaxAgeSeconds}`)
      .send(JSON.stringify(ctx.keys.publicJwks()))
  })
}
