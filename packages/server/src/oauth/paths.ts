/** Every endpoint path in one place, so discovery and routes cannot disagree. */
export const PATHS = {
  authorize: '/authorize',
  login: '/login',
  /** The second sign-in step: a code from the authenticator app, or a recovery code. */
  loginOtp: '/login/otp',
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
  /** The hosted two-step verification page: TOTP enrolment, and the `setup-mfa` task. */
  accountMfa: '/account/mfa',
} as const
