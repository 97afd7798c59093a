/**
 * Where the app finds Tessera and the two demo APIs. Expo inlines `EXPO_PUBLIC_*` variables when
 * it bundles (`expo start`, `expo export`), so the same code runs against `tessera dev` on the
 * developer's machine, a phone on the LAN, or the end-to-end test's ephemeral servers.
 */
export const ISSUER = process.env.EXPO_PUBLIC_TESSERA_ISSUER ?? 'http://localhost:4000'
/** The dev server's demo client (`tessera dev` registers it with the redirect URIs below). */
export const CLIENT_ID = process.env.EXPO_PUBLIC_TESSERA_CLIENT_ID ?? 'tessera-demo'
/** The example's API server (`npm run api -w @tessera/example-expo`): both demo APIs. */
export const API_URL = process.env.EXPO_PUBLIC_API_URL ?? 'http://localhost:5180'
/** Native redirect: the reverse-domain scheme of app.json (a development build). Expo Go can only
 * open `exp://HOST:PORT/--/...`, which `tessera dev` accepts for its demo client. */
export const NATIVE_REDIRECT_URI =
  process.env.EXPO_PUBLIC_REDIRECT_URI ?? 'dev.tessera.demo:/callback'

/** The two demo APIs of `tessera dev` that the app calls, one audience each. */
export const APIS = {
  orders: {
    baseUrl: API_URL + '/orders',
    audience: 'https://orders.demo.tessera.test',
    scope: 'orders:read',
  },
  billing: {
    baseUrl: API_URL + '/billing',
    audience: 'https://billing.demo.tessera.test',
    scope: 'invoices:read',
  },
} as const

/** Routes of the session's pending tasks (a session that must finish one before it is whole). */
export const TASK_ROUTES = {
  accept_terms: '/tasks/accept_terms',
  mfa_setup: '/tasks/mfa_setup',
} as const
