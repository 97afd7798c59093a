import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import { clientIp } from '../http/request-info.js'
import type { ThrottleEntry } from '../security/throttle.js'
import type { ClientRecord } from '../store/types.js'
import { verifyClientSecret } from './client-secret.js'
import { InvalidClient, InvalidRequest } from './errors.js'

export interface AuthenticatedClient {
  client: ClientRecord
  method: 'none' | 'client_secret_basic' | 'client_secret_post'
  /** The caller's address, as `clientIp` reads it (trusted proxies only). */
  ip: string
  /**
   * Failure counters for what this request does next (invalid grants): always the caller's IP;
   * for a confidential client also the client itself (its requests are authenticated, so only it
   * can spend them). A public client is never throttled as a whole: anyone could then lock every
   * user of the app out by flooding it with bad tokens from many addresses.
   */
  throttleKeys: ThrottleKey[]
}

export type ThrottleKey = ThrottleEntry

/** The per-IP failure counter shared by client authentication and grants. */
function ipThrottleKey(ctx: ServerContext, ip: string): ThrottleKey {
  return { key: `grant-ip:${ip}`, rule: ctx.config.throttle.invalidGrantPerIp }
}

function basicCredentials(req: FastifyRequest): { id: string; secret: string } | undefined {
  const h = req.headers.authorization
  if (typeof h !== 'string' || !/^basic /i.test(h)) return undefined
  const raw = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8')
  const colon = raw.indexOf(':')
  if (colon < 0) throw invalidClient('malformed Basic credentials', true)
  try {
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '))
    return { id: dec(raw.slice(0, colon)), secret: dec(raw.slice(colon + 1)) }
  } catch {
    throw invalidClient('malformed Basic credentials', true)
  }
}

function invalidClient(description: string, basic: boolean, detail?: string): InvalidClient {
  const e = new InvalidClient(description, detail)
  if (basic) e.headers['www-authenticate'] = 'Basic realm="tessera", charset="UTF-8"'
  return e
}

/**
 * Client authentication at the token, revocation and introspection endpoints: exactly one method
 * per request (RFC 6749 2.3), the one the client registered. Confidential clients must
 * authenticate (RT-08); public clients identify themselves with `client_id`.
 *
 * Throttling (REL-12, DOS-01): the secret is checked before any counter of the client, so wrong
 * secrets sent by others never keep the client's owner out. A wrong secret counts against the
 * caller's address (`grant-ip:`) and the client's failed authentications (`client-auth:`); once
 * either has reached its limit, wrong secrets get 429 instead of 401 and are not counted further:
 * the sources slow down. The right secret always authenticates. A secret is at least 32
 * characters, so letting it through gives no useful oracle; a password is different (see
 * login/sign-in.ts). Anonymous requests (unknown clients, public clients) are held to the caller's
 * address before anything else, and an authenticated client to its own invalid grants
 * (`client:`), which only it can spend.
 */
export async function authenticateClient(
  ctx: ServerContext,
  req: FastifyRequest,
  body: Params,
): Promise<AuthenticatedClient> {
  const basic = basicCredentials(req)
  const postSecret = param(body, 'client_secret', 512)
  const bodyId = param(body, 'client_id', 256)
  if (basic && postSecret !== undefined) {
    throw new InvalidRequest('use only one client authentication method')
  }
  if (basic && bodyId !== undefined && bodyId !== basic.id) {
    throw new InvalidRequest('client_id does not match the authenticated client')
  }
  const id = basic?.id ?? bodyId
  if (id === undefined) throw invalidClient('client authentication is required', false)

  const ip = clientIp(req, ctx.config.trustProxy)
  const ipKey = ipThrottleKey(ctx, ip)
  // A throttled address gets nothing without a secret to check: no client lookup, no work.
  if (!basic && postSecret === undefined) await ctx.throttle.check([ipKey])
  const client = await ctx.store.getClient(id)
  if (!client) {
    await ctx.throttle.check([ipKey])
    await ctx.throttle.fail([ipKey])
    throw invalidClient('client authentication failed', Boolean(basic), 'unknown client')
  }
  const method = basic
    ? 'client_secret_basic'
    : postSecret !== undefined
      ? 'client_secret_post'
      : 'none'
  if (client.tokenEndpointAuthMethod === 'none') {
    await ctx.throttle.check([ipKey])
    if (method !== 'none') {
      throw invalidClient('this client does not authenticate with a secret', Boolean(basic))
    }
    return { client, method, ip, throttleKeys: [ipKey] }
  }
  if (method === 'none') {
    throw invalidClient(
      'client authentication is required',
      false,
      'confidential client without secret',
    )
  }
  if (method !== client.tokenEndpointAuthMethod) {
    throw invalidClient(
      `this client authenticates with ${client.tokenEndpointAuthMethod}`,
      Boolean(basic),
    )
  }
  const secret = basic ? basic.secret : (postSecret as string)
  if (!client.secretHash || !verifyClientSecret(secret, client.secretHash)) {
    const authKeys = [
      ipKey,
      { key: `client-auth:${id}`, rule: ctx.config.throttle.clientAuthPerClient },
    ]
    const over = await ctx.throttle.exceeded(authKeys)
    if (over) throw ctx.throttle.refusal(over)
    await ctx.throttle.fail(authKeys)
    throw invalidClient('client authentication failed', Boolean(basic), 'bad client secret')
  }
  const clientKey = { key: `client:${id}`, rule: ctx.config.throttle.invalidGrantPerClient }
  await ctx.throttle.check([clientKey])
  return { client, method, ip, throttleKeys: [ipKey, clientKey] }
}
