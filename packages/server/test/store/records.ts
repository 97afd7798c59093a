import { randomBytes } from 'node:crypto'
import type {
  AdminKeyRecord,
  AdminSessionRecord,
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  SecurityEventRecord,
  SessionRecord,
  SigningKeyRecord,
  UserRecord,
} from '../../src/store/types.js'

/**
 * Record factories for the store conformance suite. Every field is set to a non-default value, so a
 * store that drops or mangles one fails the round-trip tests. Times are milliseconds well above
 * 2^31 (and above 2^32), which a 32-bit column would truncate.
 */

/** 2026-01-01T00:00:00Z, a multiple of every throttle window used in the suite. */
export const T0 = Date.UTC(2026, 0, 1)
/** 2100-01-01T00:00:00Z: above 2^41 ms. */
export const FAR = Date.UTC(2100, 0, 1)

export const uid = (prefix: string): string => `${prefix}${randomBytes(16).toString('base64url')}`

export function clientRecord(o: Partial<ClientRecord> = {}): ClientRecord {
  return {
    id: uid('client-'),
    name: 'Client "one" ünïcode ✓',
    secretHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
    tokenEndpointAuthMethod: 'client_secret_basic',
    applicationType: 'native',
    redirectUris: ['https://app.example.test/cb', 'com.example.app:/cb'],
    postLogoutRedirectUris: ['https://app.example.test/bye'],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes: ['openid', 'offline_access', 'read'],
    audiences: ['https://api-a.example.test', 'https://api-b.example.test'],
    refreshGraceSeconds: 45,
    refreshGraceMaxUses: 3,
    sessionIdleSeconds: 7 * 86_400,
    sessionAbsoluteSeconds: 400 * 86_400,
    createdAt: T0 + 1,
    updatedAt: FAR + 2,
    ...o,
  }
}

export function apiRecord(o: Partial<ApiRecord> = {}): ApiRecord {
  return {
    audience: `https://${uid('api-').toLowerCase()}.example.test`,
    name: 'Orders API',
    scopes: ['orders:read', 'orders:write'],
    accessTokenTtlSeconds: 321,
    userClaims: ['roles', 'org'],
    createdAt: T0 + 3,
    updatedAt: FAR + 4,
    ...o,
  }
}

export function userRecord(o: Partial<UserRecord> = {}): UserRecord {
  return {
    id: uid('usr_'),
    username: uid('User.').replace(/[^A-Za-z0-9.]/g, 'x'),
    passwordHash: 'scrypt$1024$8$1$c2FsdA$aGFzaA',
    email: 'user@example.test',
    name: 'Ada Lovelace',
    disabled: true,
    metadata: { roles: ['admin', 'billing'], org: { id: 'org_1', tier: 2 }, flag: false, n: null },
    passwordChangedAt: T0 + 5,
    emailVerifiedAt: null,
    createdAt: T0 + 6,
    updatedAt: FAR + 7,
    ...o,
  }
}

export function browserSessionRecord(
  userId: string,
  o: Partial<BrowserSessionRecord> = {},
): BrowserSessionRecord {
  return {
    id: uid('bs-'),
    userId,
    authTime: T0 + 8,
    amr: ['pwd', 'otp'],
    createdAt: T0 + 9,
    lastActiveAt: T0 + 10,
    expiresAt: FAR + 11,
    endedAt: null,
    ...o,
  }
}

export function codeRecord(o: Partial<AuthorizationCodeRecord> = {}): AuthorizationCodeRecord {
  return {
    codeHash: uid(''),
    clientId: 'web-app',
    userId: uid('usr_'),
    browserSessionId: uid('bs-'),
    redirectUri: 'https://app.example.test/cb?x=1',
    scope: 'openid offline_access read',
    resources: ['https://api-a.example.test', 'https://api-b.example.test'],
    nonce: 'n-0S6_WzA2Mj',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    codeChallengeMethod: 'S256',
    authTime: T0 + 12,
    amr: ['pwd'],
    createdAt: T0 + 13,
    expiresAt: T0 + 60_000,
    consumedAt: null,
    sessionId: null,
    userAgent: 'Mozilla/5.0 (conformance)',
    ip: '203.0.113.7',
    ...o,
  }
}

export function sessionRecord(o: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: uid(''),
    userId: uid('usr_'),
    clientId: 'web-app',
    browserSessionId: uid('bs-'),
    state: 'active',
    reason: null,
    endedAt: null,
    scope: 'openid offline_access read',
    resources: ['https://api-a.example.test'],
    authTime: T0 + 14,
    amr: ['pwd', 'hwk'],
    createdAt: T0 + 15,
    lastActiveAt: T0 + 16,
    expiresAt: FAR + 17,
    idleSeconds: 14 * 86_400,
    generation: 7,
    rotatedAt: T0 + 18,
    graceUses: 2,
    graceSeconds: 30,
    graceMaxUses: 10,
    salt: randomBytes(16).toString('base64url'),
    userAgent: 'okhttp/4.12',
    ip: '2001:db8::1',
    dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    task: null,
    ...o,
  }
}

export function eventRecord(o: Partial<SecurityEventRecord> = {}): SecurityEventRecord {
  return {
    id: uid('evt_'),
    type: 'refresh_token_reuse',
    at: T0 + 19,
    userId: uid('usr_'),
    clientId: 'web-app',
    sessionId: uid(''),
    ip: '198.51.100.2',
    userAgent: 'curl/8',
    data: { cause: 'stale_generation', generation: 3, presented: [1, 2], nested: { ok: true } },
    ...o,
  }
}

export function signingKeyRecord(o: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  const kid = uid('').slice(0, 16)
  return {
    kid,
    alg: 'ES256',
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid, alg: 'ES256' }),
    privateJwkEnc: randomBytes(64).toString('base64url'),
    createdAt: T0 + 20,
    activatesAt: T0 + 21,
    retiredAt: null,
    expiresAt: null,
    ...o,
  }
}

export function adminKeyRecord(o: Partial<AdminKeyRecord> = {}): AdminKeyRecord {
  return {
    id: uid('ak_'),
    name: 'deploy-bot',
    keyHash: `sha256$${randomBytes(32).toString('base64url')}`,
    createdAt: T0 + 22,
    revokedAt: null,
    ...o,
  }
}

export function adminSessionRecord(
  keyId: string,
  o: Partial<AdminSessionRecord> = {},
): AdminSessionRecord {
  return {
    id: uid(''),
    keyId,
    createdAt: T0 + 23,
    lastActiveAt: T0 + 24,
    expiresAt: FAR + 25,
    endedAt: null,
    ...o,
  }
}
