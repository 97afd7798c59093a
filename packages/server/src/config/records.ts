import { hashClientSecret } from '../oauth/client-secret.js'
import type { ApiRecord, ClientRecord } from '../store/types.js'
import type { ApiConfig, ClientConfig } from './config.js'

/** The stored records of a validated API or client (from the configuration or the Admin API). */
export function apiRecord(a: ApiConfig, now: number): ApiRecord {
  return {
    audience: a.audience,
    name: a.name ?? a.audience,
    scopes: a.scopes ?? [],
    accessTokenTtlSeconds: a.accessTokenTtlSeconds ?? 900,
    userClaims: a.userClaims ?? [],
    ...(a.requireMfa ? { requireMfa: true } : {}),
    createdAt: now,
    updatedAt: now,
  }
}

export function clientRecord(c: ClientConfig, now: number): ClientRecord {
  return {
    id: c.id,
    name: c.name ?? c.id,
    secretHash: c.secret ? hashClientSecret(c.secret) : null,
    tokenEndpointAuthMethod:
      c.tokenEndpointAuthMethod ?? (c.secret ? 'client_secret_basic' : 'none'),
    applicationType: c.applicationType ?? 'web',
    redirectUris: c.redirectUris ?? [],
    postLogoutRedirectUris: c.postLogoutRedirectUris ?? [],
    grantTypes: c.grantTypes ?? ['authorization_code', 'refresh_token'],
    scopes: c.scopes ?? ['openid', 'profile', 'email', 'offline_access'],
    audiences: c.audiences ?? [],
    ...(c.resourceServerFor?.length ? { resourceServerFor: c.resourceServerFor } : {}),
    ...(c.refreshGraceSeconds !== undefined ? { refreshGraceSeconds: c.refreshGraceSeconds } : {}),
    ...(c.refreshGraceMaxUses !== undefined ? { refreshGraceMaxUses: c.refreshGraceMaxUses } : {}),
    sessionIdleSeconds: c.sessionIdleSeconds ?? 14 * 86_400,
    sessionAbsoluteSeconds: c.sessionAbsoluteSeconds ?? 90 * 86_400,
    dpop: c.dpop ?? 'optional',
    ...(c.requireMfa ? { requireMfa: true } : {}),
    ...(c.refreshTokenDelivery === 'cookie' ? { refreshTokenDelivery: 'cookie' as const } : {}),
    ...(c.webOrigins?.length ? { webOrigins: c.webOrigins } : {}),
    ...(c.signUp !== undefined ? { signUp: c.signUp } : {}),
    ...(c.requireVerifiedEmail !== undefined
      ? { requireVerifiedEmail: c.requireVerifiedEmail }
      : {}),
    createdAt: now,
    updatedAt: now,
  }
}
