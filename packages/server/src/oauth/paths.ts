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
  /** The account API's passkeys of the caller. */
  accountPasskeys: '/account/passkeys',
  /** Passkey sign-in on the hosted sign-in page: WebAuthn options, then the assertion. */
  loginPasskeyOptions: '/login/passkey/options',
  loginPasskey: '/login/passkey',
  /** The hosted passkeys page of the signed-in browser user, and its ceremony endpoints. */
  passkeys: '/passkeys',
  passkeysScript: '/passkeys/passkeys.js',
  passkeyRegisterOptions: '/passkeys/register/options',
  passkeyRegister: '/passkeys/register',
  passkeyRemove: '/passkeys/remove',
  /** Upstream sign-in: the redirect to the provider (`/login/upstream/{id}`), its callback, and
   * the page that confirms a link to an existing account. */
  loginUpstream: '/login/upstream',
  loginUpstreamCallback: '/login/upstream-callback',
  loginUpstreamLink: '/login/upstream-link',
  /** The account API's device keys of native apps (biometric step-up). */
  accountDeviceKeys: '/account/device-keys',
  /** Biometric step-up: a one-time challenge for a device key, then its signature. */
  accountStepUpChallenge: '/account/step-up/challenge',
  accountStepUp: '/account/step-up',
} as const
