import type { ServerContext } from '../../context.js'
import { param, paramList, type Params } from '../../http/form.js'
import type { ApiRecord } from '../../store/types.js'
import { InvalidScope, InvalidTarget, InvalidRequest } from '../errors.js'
import { SCOPE_TOKEN } from '../scope-token.js'

/** Scopes of the issuer's own audience: what `/userinfo` and the account APIs accept. */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const

/** Lets an access token for the issuer list and end its user's sessions (`/account/sessions`). */
export const ACCOUNT_SESSIONS_SCOPE = 'account:sessions'

/** The issuer as an API: access tokens without a `resource` are for it (and `/userinfo`). */
export function issuerApi(ctx: ServerContext): ApiRecord {
  return {
    audience: ctx.config.issuer,
    name: 'Tessera',
    scopes: [...OIDC_SCOPES, ACCOUNT_SESSIONS_SCOPE],
    accessTokenTtlSeconds: ctx.config.defaultAccessTokenTtlSeconds,
    userClaims: [],
    createdAt: 0,
    updatedAt: 0,
  }
}

/** `resource` (RFC 8707, repeatable) and Auth0's `audience` alias, de-duplicated. */
export function requestedResources(body: Params): string[] {
  const list = paramList(body, 'resource', 512)
  const alias = param(body, 'audience', 512)
  if (alias !== undefined && !list.includes(alias)) list.push(alias)
  for (const r of list) {
    let u: URL
    try {
      u = new URL(r)
    } catch {
      throw new InvalidTarget('resource must be an absolute URI')
    }
    if (u.hash || r.includes('#')) throw new InvalidTarget('resource must not contain a fragment')
  }
  return list
}

/**
 * The one audience of the access token this request gets: the requested resource when the grant
 * allows it, else the issuer. Access tokens carry exactly one audience, so a token request may
 * name at most one resource (RFC 8707 2.2 lets the server narrow; we refuse rather than guess).
 */
export async function resolveAudience(
  ctx: ServerContext,
  requested: string[],
  allowed: readonly string[],
): Promise<ApiRecord> {
  if (requested.length > 1) {
    throw new InvalidTarget('an access token is for one resource; request one resource at a time')
  }
  const aud = requested[0]
  if (aud === undefined || aud === ctx.config.issuer) return issuerApi(ctx)
  if (!allowed.includes(aud)) throw new InvalidTarget('the resource is not allowed for this grant')
  const api = await ctx.store.getApi(aud)
  if (!api) throw new InvalidTarget('the resource is not allowed for this grant')
  return api
}

export function parseScope(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined
  const list = raw.split(' ').filter((s) => s !== '')
  for (const s of list) {
    if (!SCOPE_TOKEN.test(s)) throw new InvalidRequest('scope contains an invalid character')
  }
  return [...new Set(list)]
}

/** A requested scope may narrow what was granted, never widen it (RT-09). */
export function narrowScope(requested: string[] | undefined, granted: string[]): string[] {
  if (requested === undefined) return granted
  const extra = requested.filter((s) => !granted.includes(s))
  if (extra.length > 0) throw new InvalidScope('the requested scope exceeds the granted scope')
  return requested
}

/** The part of `scopes` that the API defines: what its access token carries. */
export function scopeForApi(api: ApiRecord, scopes: string[]): string {
  return scopes.filter((s) => api.scopes.includes(s)).join(' ')
}
