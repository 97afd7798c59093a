/** Every endpoint path in one place, so discovery and routes cannot disagree. */
export const PATHS = {
  authorize: '/authorize',
  login: '/login',
  token: '/oauth/token',
  revoke: '/oauth/revoke',
  introspect: '/oauth/introspect',
  userinfo: '/userinfo',
  jwks: '/.well-known/jwks.json',
  endSession: '/logout',
  openidConfiguration: '/.well-known/openid-configuration',
  oauthMetadata: '/.well-known/oauth-authorization-server',
  /** The self-service account API: the caller's own sessions. */
  accountSessions: '/account/sessions',
} as const
