/**
 * Server-verified biometric step-up for native apps, on the account API (the same access token and
 * `account:sessions` scope as `/account/sessions`):
 *
 * | method, path | body | answer |
 * |---|---|---|
 * | `POST /account/device-keys` | `{ name, public_jwk }` or `{ name, public_key }` (base64 SPKI; P-256 or RSA) | 201 `DeviceKeyView`; 409 when this key is registered |
 * | `GET /account/device-keys` | | 200 `{ device_keys: DeviceKeyView[] }` |
 * | `DELETE /account/device-keys/{id}` | | 204; 404 when not the caller's |
 * | `POST /account/step-up/challenge` | `{ device_key_id }` | 200 `{ challenge, expires_in }` |
 * | `POST /account/step-up` | `{ challenge, signature }` | 200 `{ amr, acr, auth_time }` |
 *
 * The app signs the challenge string (UTF-8) with its device key after the biometric prompt
 * (ES256: DER or raw r||s; RS256 for RSA keys; base64). A good signature gives the caller's session `amr` + `hwk`,
 * `user` and a new `auth_time`; the next refresh carries them. Every refusal is 400 (or 401/403 for
 * the token) and records `device_step_up_failure` with its reason; removed keys answer
 * `server_credential_revoked` so the app registers a new one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { AccountCors } from '../account/account-cors.js'
import {
  authenticated,
  type AccountRequest,
  type AuthenticatedRequest,
} from '../account/account-request.js'
import { TOKEN_CHECKS } from '../account/index.js'
import { clientIp, userAgent } from '../http/request-info.js'
import { randomId } from '../lib/random.js'
import { acrOf } from '../mfa/second-factor.js'
import {
  Conflict,
  CredentialRevoked,
  InvalidGrant,
  InvalidRequest,
  NotFound,
} from '../oauth/errors.js'
import { PATHS } from '../oauth/paths.js'
import type { DeviceKeyRecord, SecurityEventType } from '../store/types.js'
import {
  AMR_DEVICE_STEP_UP,
  MAX_DEVICE_KEYS,
  readPublicKey,
  thumbprint,
  verifySignature,
} from './device-key.js'
import {
  consumeStepUpChallenge,
  STEP_UP_CHALLENGE_TTL_SECONDS,
  StepUpChallengeCodec,
} from './step-up-challenge.js'

/** A device key as the account API and Admin API show it: the public key's thumbprint, not the key. */
export interface DeviceKeyView {
  id: string
  name: string
  jkt: string
  created_at: string
  last_used_at: string | null
}

export function deviceKeyView(k: DeviceKeyRecord): DeviceKeyView {
  return {
    id: k.id,
    name: k.name,
    jkt: k.jkt,
    created_at: new Date(k.createdAt).toISOString(),
    last_used_at: k.lastUsedAt === null ? null : new Date(k.lastUsedAt).toISOString(),
  }
}

export type StepUpFailure =
  | 'invalid_challenge'
  | 'expired_challenge'
  | 'session_mismatch'
  | 'replayed_challenge'
  | 'removed_device'
  | 'wrong_key'
  | 'bad_signature'

const MESSAGES: Record<StepUpFailure, string> = {
  invalid_challenge: 'the challenge is not one this server issued',
  expired_challenge: 'the challenge has expired; ask for a new one',
  session_mismatch: 'the challenge was issued to another session',
  replayed_challenge: 'the challenge was already used; ask for a new one',
  removed_device: 'the device key was removed; register a new one',
  wrong_key: 'the challenge was signed by another device key',
  bad_signature: 'the signature does not verify',
}

async function authenticate(
  req: FastifyRequest,
  ctx: ServerContext,
): Promise<AuthenticatedRequest> {
  const r: AccountRequest = { req }
  for (const check of TOKEN_CHECKS) await check(r, ctx)
  return authenticated(r)
}

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body
  if (typeof b !== 'object' || b === null || Array.isArray(b))
    throw new InvalidRequest('the body must be a JSON object')
  return b as Record<string, unknown>
}

function text(b: Record<string, unknown>, name: string, max: number): string {
  const v = b[name]
  if (typeof v !== 'string' || v.trim() === '' || v.length > max)
    throw new InvalidRequest(`${name} must be a string of 1 to ${max} characters`)
  return v.trim()
}

export function deviceKeyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const cors = new AccountCors(ctx)
  const codec = new StepUpChallengeCodec(ctx.config.secrets)
  const route = {
    onRequest: async (req: FastifyRequest, reply: FastifyReply) => {
      reply.header('cache-control', 'no-store')
      await cors.apply(req, reply)
    },
  }
  const one = `${PATHS.accountDeviceKeys}/:id`
  const meta = (req: FastifyRequest, r: AuthenticatedRequest) => ({
    userId: r.user.id,
    sessionId: r.current.id,
    clientId: r.current.clientId,
    ip: clientIp(req, ctx.config.trustProxy),
    userAgent: userAgent(req),
  })
  const event = (
    type: SecurityEventType,
    req: FastifyRequest,
    r: AuthenticatedRequest,
    data: Record<string, unknown>,
  ) => ctx.events.make(type, { ...meta(req, r), data: { ...data, via: 'account_api' } })

  app.options(PATHS.accountDeviceKeys, (req, reply) => cors.preflight(req, reply, 'GET, POST'))
  app.options(one, (req, reply) => cors.preflight(req, reply, 'DELETE'))
  app.options(PATHS.accountStepUpChallenge, (req, reply) => cors.preflight(req, reply, 'POST'))
  app.options(PATHS.accountStepUp, (req, reply) => cors.preflight(req, reply, 'POST'))

  app.get(PATHS.accountDeviceKeys, route, async (req, reply) => {
    const r = await authenticate(req, ctx)
    const keys = (await ctx.store.listDeviceKeys(r.user.id)).map(deviceKeyView)
    return json(reply, 200, { device_keys: keys })
  })

  app.post(PATHS.accountDeviceKeys, route, async (req, reply) => {
    const r = await authenticate(req, ctx)
    const b = body(req)
    const name = text(b, 'name', 100)
    const jwk = readPublicKey(b.public_jwk, b.public_key)
    if (!jwk) {
      throw new InvalidRequest(
        'give public_jwk (an EC P-256 or RSA 2048+ public JWK) or public_key (base64 SPKI DER of one), not both',
      )
    }
    if ((await ctx.store.listDeviceKeys(r.user.id)).length >= MAX_DEVICE_KEYS) {
      throw new Conflict(`a user has at most ${MAX_DEVICE_KEYS} device keys; remove one first`)
    }
    const now = ctx.clock.now()
    const record: DeviceKeyRecord = {
      id: randomId(ctx.random),
      userId: r.user.id,
      name,
      publicJwk: jwk,
      jkt: await thumbprint(jwk),
      createdAt: now,
      lastUsedAt: null,
    }
    const created = await ctx.store.createDeviceKey(
      record,
      event('device_key_registered', req, r, { deviceKeyId: record.id, jkt: record.jkt }),
    )
    if (!created) throw new Conflict('this device key is already registered')
    return json(reply, 201, deviceKeyView(record))
  })

  app.delete(one, route, async (req, reply) => {
    const r = await authenticate(req, ctx)
    const id = (req.params as { id?: unknown }).id
    const removed =
      typeof id === 'string' &&
      id.length <= 64 &&
      (await ctx.store.deleteDeviceKey(
        r.user.id,
        id,
        event('device_key_removed', req, r, { deviceKeyId: id }),
      ))
    if (!removed) throw new NotFound('no such device key')
    return reply.code(204).send()
  })

  app.post(PATHS.accountStepUpChallenge, route, async (req, reply) => {
    const r = await authenticate(req, ctx)
    const id = text(body(req), 'device_key_id', 64)
    const key = await ctx.store.getDeviceKey(id)
    if (!key || key.userId !== r.user.id) {
      await ctx.store.recordEvent(
        event('device_step_up_failure', req, r, { reason: 'removed_device', deviceKeyId: id }),
      )
      throw new CredentialRevoked(MESSAGES.removed_device)
    }
    const c = codec.issue(r.current.id, key.id, ctx.clock.now(), ctx.random)
    return json(reply, 200, { challenge: c.sealed, expires_in: STEP_UP_CHALLENGE_TTL_SECONDS })
  })

  app.post(PATHS.accountStepUp, route, async (req, reply) => {
    const r = await authenticate(req, ctx)
    const b = body(req)
    const sealed = text(b, 'challenge', 1024)
    const signature = text(b, 'signature', 1024)
    const refuse = async (reason: StepUpFailure, deviceKeyId: string | null): Promise<never> => {
      await ctx.store.recordEvent(event('device_step_up_failure', req, r, { reason, deviceKeyId }))
      throw reason === 'removed_device'
        ? new CredentialRevoked(MESSAGES[reason])
        : new InvalidGrant(MESSAGES[reason])
    }
    const opened = codec.open(sealed, r.current.id, ctx.clock.now())
    if (!opened.ok) return refuse(opened.reason, null)
    const c = opened.challenge
    // Single use from the first answer on, good or bad: a signature cannot be tried twice.
    if (!(await consumeStepUpChallenge(ctx, c))) return refuse('replayed_challenge', c.deviceKeyId)
    const key = await ctx.store.getDeviceKey(c.deviceKeyId)
    if (!key || key.userId !== r.user.id) return refuse('removed_device', c.deviceKeyId)
    if (!verifySignature(key.publicJwk, sealed, signature)) {
      const others = (await ctx.store.listDeviceKeys(r.user.id)).filter((k) => k.id !== key.id)
      const byAnother = others.some((k) => verifySignature(k.publicJwk, sealed, signature))
      return refuse(byAnother ? 'wrong_key' : 'bad_signature', key.id)
    }
    const now = ctx.clock.now()
    const amr = [...new Set([...r.current.amr, ...AMR_DEVICE_STEP_UP])]
    const raised = await ctx.store.raiseSession(
      { sessionId: r.current.id, amr, authTime: now, deviceKeyId: key.id },
      event('device_step_up_success', req, r, { deviceKeyId: key.id, amr }),
    )
    if (!raised) throw new InvalidGrant('the session is no longer active')
    return json(reply, 200, { amr, acr: acrOf(amr), auth_time: Math.floor(now / 1000) })
  })
}

function json(reply: FastifyReply, status: number, b: unknown): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(b))
}
