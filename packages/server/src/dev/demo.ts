import type { ApiConfig, ClientConfig } from '../config/config.js'

/** The public client the playground signs in with. */
export const DEMO_CLIENT_ID = 'tessera-demo'
/** A private-use scheme redirect URI for trying the demo client from a native app (RFC 8252). */
export const DEMO_NATIVE_REDIRECT_URI = 'dev.tessera.demo:/callback'
/** Path of the playground's sign-in callback (the demo client's web redirect URI). */
export const PLAYGROUND_CALLBACK_PATH = '/playground/callback'
/** Path of the dev-only JSON endpoint that reports the caller's session state. */
export const PLAYGROUND_SESSION_PATH = '/playground/session'
export const DEMO_USERNAME = 'demo'

/** Two demo APIs, each with its own scopes, lifetime and per-API user claim. */
export const DEMO_APIS: readonly ApiConfig[] = [
  {
    audience: 'https://orders.demo.tessera.test',
    name: 'Orders API (demo)',
    scopes: ['orders:read', 'orders:write'],
    accessTokenTtlSeconds: 900,
    userClaims: ['roles'],
  },
  {
    audience: 'https://billing.demo.tessera.test',
    name: 'Billing API (demo)',
    scopes: ['invoices:read'],
    accessTokenTtlSeconds: 300,
    userClaims: ['plan'],
  },
]

/** Metadata of the demo user, read by the demo APIs' claims (`roles`, `plan`). */
export const DEMO_USER_METADATA: Readonly<Record<string, unknown>> = {
  roles: ['customer', 'support'],
  plan: 'pro',
  email_verified: true,
}

/**
 * The demo public client: PKCE, no secret. It is a `native` client so that it may hold both the
 * playground's loopback web callback and a private-use scheme for a mobile app under development.
 */
export function demoClient(issuer: string): ClientConfig {
  return {
    id: DEMO_CLIENT_ID,
    name: 'Tessera demo',
    applicationType: 'native',
    redirectUris: [issuer + PLAYGROUND_CALLBACK_PATH, DEMO_NATIVE_REDIRECT_URI],
    postLogoutRedirectUris: [issuer + '/'],
    audiences: DEMO_APIS.map((a) => a.audience),
    scopes: [
      'openid',
      'profile',
      'email',
      'offline_access',
      // so a developer can try the account API (/account/sessions) with the demo client
      'account:sessions',
      ...DEMO_APIS.flatMap((a) => a.scopes ?? []),
    ],
  }
}
