import type { ApiConfig, ClientConfig } from '../config/config.js'

/** The public client the playground signs in with. */
export const DEMO_CLIENT_ID = 'tessera-demo'
/** A private-use scheme redirect URI for trying the demo client from a native app (RFC 8252). */
export const DEMO_NATIVE_REDIRECT_URI = 'dev.tessera.demo:/callback'
/** The Expo example's web redirect URI under `npx expo start --web` (Expo's default port 8081). */
export const DEMO_EXPO_WEB_REDIRECT_URI = 'http://localhost:8081/callback'
/** Where the Expo example's web build goes after sign-out at the server. */
export const DEMO_EXPO_WEB_POST_LOGOUT_URI = 'http://localhost:8081/'
/** Path of the playground's sign-in callback (the demo client's web redirect URI). */
export const PLAYGROUND_CALLBACK_PATH = '/playground/callback'
/** Path of the dev-only JSON endpoint that reports the caller's session state. */
export const PLAYGROUND_SESSION_PATH = '/playground/session'
export const DEMO_USERNAME = 'demo'

/** Three demo APIs, each with its own scopes, lifetime and per-API user claim. */
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
  {
    audience: 'https://analytics.demo.tessera.test',
    name: 'Analytics API (demo)',
    scopes: ['analytics:read'],
    accessTokenTtlSeconds: 300,
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
    redirectUris: [
      issuer + PLAYGROUND_CALLBACK_PATH,
      DEMO_NATIVE_REDIRECT_URI,
      DEMO_EXPO_WEB_REDIRECT_URI,
    ],
    postLogoutRedirectUris: [issuer + '/', DEMO_EXPO_WEB_POST_LOGOUT_URI],
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

/**
 * Expo Go opens an app under development at `exp://HOST:PORT/--/PATH` (HOST: the developer's
 * machine on the LAN, PORT: Metro's), a scheme that RFC 8252 would refuse (a private-use scheme
 * is a reverse domain name) and whose host is only known when Expo starts. So `tessera dev`
 * accepts any such URI for {@link DEMO_CLIENT_ID} alone; no other client, and never a server
 * without `dev` (`tessera start`). The URI is checked as a URL: `exp:`, a host, no credentials,
 * a path under `/--/` as written (no dot segments), no fragment.
 */
export function isExpoGoRedirectUri(uri: string): boolean {
  let u: URL
  try {
    u = new URL(uri)
  } catch {
    return false
  }
  return (
    u.protocol === 'exp:' &&
    uri.startsWith('exp://') &&
    u.hostname !== '' &&
    u.username === '' &&
    u.password === '' &&
    !uri.includes('#') &&
    u.pathname.startsWith('/--/') &&
    uri.slice(`exp://${u.host}`.length).startsWith(u.pathname)
  )
}

/** Whether `tessera dev` accepts `uri` as an Expo Go redirect for `clientId` (dev only). */
export function acceptsExpoGoRedirect(dev: boolean, clientId: string, uri: string): boolean {
  return dev && clientId === DEMO_CLIENT_ID && isExpoGoRedirectUri(uri)
}

/**
 * The micro-frontend demo of `examples/web` (started by the root `npm start`): a shell that signs
 * in with {@link DEMO_SHELL_CLIENT_ID} and three frames on their own origins, each registered in
 * the shell's bridge for one demo API.
 */
export const DEMO_WEB = {
  shell: 'http://localhost:5170',
  frames: {
    orders: { origin: 'http://localhost:5171', audience: 'https://orders.demo.tessera.test' },
    billing: { origin: 'http://localhost:5172', audience: 'https://billing.demo.tessera.test' },
    analytics: { origin: 'http://localhost:5173', audience: 'https://analytics.demo.tessera.test' },
  },
} as const

/** The public client of the micro-frontend demo's shell (PKCE, no secret). */
export const DEMO_SHELL_CLIENT_ID = 'tessera-demo-shell'

/** The shell client of the micro-frontend demo: a browser app at {@link DEMO_WEB}`.shell`. */
export function demoShellClient(): ClientConfig {
  return {
    id: DEMO_SHELL_CLIENT_ID,
    name: 'Tessera micro-frontend demo',
    redirectUris: [DEMO_WEB.shell + '/callback'],
    postLogoutRedirectUris: [DEMO_WEB.shell + '/'],
    audiences: DEMO_APIS.map((a) => a.audience),
    scopes: [
      'openid',
      'profile',
      'email',
      'offline_access',
      ...DEMO_APIS.flatMap((a) => a.scopes ?? []),
    ],
  }
}
