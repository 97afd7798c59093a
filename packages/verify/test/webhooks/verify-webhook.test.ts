import { createHmac, randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { describe, expect, it } from 'vitest'
import { TesseraVerifyError, type VerifyErrorCode } from '../../src/errors.js'
import { verifyWebhook, type VerifyWebhookOptions } from '../../src/webhooks/verify-webhook.js'
import { FakeClock, NOW, NOW_S } from '../helpers/fake-clock.js'

const SECRET = `whsec_${randomBytes(32).toString('base64')}`
const OTHER = `whsec_${randomBytes(32).toString('base64')}`
const ID = 'msg_2KWPBgLlAfxdpx2AI54pPJ'
const BODY = JSON.stringify({
  id: ID,
  type: 'session.revoked',
  timestamp: '2026-01-01T00:00:00.000Z',
  data: {
    session_id: '2KWPBgLlAfxdpx2AI54pPJ',
    user_id: 'usr_x',
    client_id: 'web-app',
    state: 'revoked',
    reason: 'refresh_token_reuse',
    ended_at: '2026-01-01T00:00:00.000Z',
  },
})

/** Headers as the reference Standard Webhooks library signs them. */
function signed(o: { secret?: string; id?: string; ts?: number; body?: string } = {}) {
  const ts = o.ts ?? NOW_S
  return {
    'webhook-id': o.id ?? ID,
    'webhook-timestamp': String(ts),
    'webhook-signature': new Webhook(o.secret ?? SECRET).sign(
      o.id ?? ID,
      new Date(ts * 1000),
      o.body ?? BODY,
    ),
  }
}

const opts = (o: Partial<VerifyWebhookOptions> = {}): VerifyWebhookOptions => ({
  secret: SECRET,
  clock: new FakeClock(),
  ...o,
})

async function failure(
  body: string | Uint8Array,
  headers: Record<string, string>,
  o: Partial<VerifyWebhookOptions> = {},
): Promise<[VerifyErrorCode, string]> {
  try {
    await verifyWebhook(body, headers, opts(o))
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraVerifyError)
    const e = err as TesseraVerifyError
    return [e.code, e.message]
  }
  return ['accepted' as VerifyErrorCode, '']
}

describe('verifyWebhook (Standard Webhooks)', () => {
  it('accepts what the reference library signs, and returns id, timestamp and the parsed event', async () => {
    const r = await verifyWebhook(BODY, signed(), opts())
    expect(r).toStrictEqual({ id: ID, timestamp: NOW_S, event: JSON.parse(BODY) as unknown })
  })

  it('accepts the raw bytes and a fetch Headers object', async () => {
    const r = await verifyWebhook(Buffer.from(BODY), new Headers(signed()), opts())
    expect(r.id).toBe(ID)
  })

  it('accepts any one valid v1 signature among several (secret rotation), in either order', async () => {
    const h = signed()
    const old = signed({ secret: OTHER })['webhook-signature']
    for (const sig of [`${old} ${h['webhook-signature']}`, `${h['webhook-signature']} ${old}`]) {
      expect((await verifyWebhook(BODY, { ...h, 'webhook-signature': sig }, opts())).id).toBe(ID)
    }
    // and a receiver that holds both secrets accepts a delivery signed with either
    expect(
      (await verifyWebhook(BODY, signed({ secret: OTHER }), opts({ secret: [SECRET, OTHER] }))).id,
    ).toBe(ID)
  })

  it('tolerance boundaries: exactly 300 s either way is accepted, 301 s is not', async () => {
    for (const ts of [NOW_S - 300, NOW_S + 300]) {
      expect((await verifyWebhook(BODY, signed({ ts }), opts())).timestamp).toBe(ts)
    }
    for (const ts of [NOW_S - 301, NOW_S + 301]) {
      expect(await failure(BODY, signed({ ts }))).toStrictEqual([
        'webhook_timestamp_invalid',
        'webhook-timestamp is more than 300 s from now',
      ])
    }
    expect(await failure(BODY, signed({ ts: NOW_S - 61 }), { toleranceSeconds: 60 })).toStrictEqual(
      ['webhook_timestamp_invalid', 'webhook-timestamp is more than 60 s from now'],
    )
    // a replay of a genuine delivery later than the tolerance is refused
    const h = signed()
    expect((await failure(BODY, h, { clock: new FakeClock(NOW + 301_000) }))[0]).toBe(
      'webhook_timestamp_invalid',
    )
  })

  it.each<[string, () => [string, Record<string, string>], VerifyErrorCode, string]>([
    [
      'a tampered body',
      () => [BODY.replace('refresh_token_reuse', 'admin'), signed()],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'a body with a byte appended',
      () => [BODY + ' ', signed()],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'a tampered timestamp (inside the tolerance)',
      () => [BODY, { ...signed(), 'webhook-timestamp': String(NOW_S + 1) }],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'a tampered id',
      () => [BODY, { ...signed(), 'webhook-id': 'msg_other' }],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'another secret',
      () => [BODY, signed({ secret: OTHER })],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'a signature with another version tag',
      () => [
        BODY,
        { ...signed(), 'webhook-signature': signed()['webhook-signature'].replace('v1,', 'v1a,') },
      ],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'a truncated signature',
      () => [
        BODY,
        { ...signed(), 'webhook-signature': signed()['webhook-signature'].slice(0, 20) },
      ],
      'webhook_signature_invalid',
      'no v1 signature in webhook-signature matches the body',
    ],
    [
      'no webhook-signature',
      () => {
        const { 'webhook-signature': _, ...h } = signed()
        return [BODY, h]
      },
      'webhook_header_missing',
      'webhook-id, webhook-timestamp and webhook-signature are required',
    ],
    [
      'no webhook-id',
      () => {
        const { 'webhook-id': _, ...h } = signed()
        return [BODY, h]
      },
      'webhook_header_missing',
      'webhook-id, webhook-timestamp and webhook-signature are required',
    ],
    [
      'a timestamp that is not a number',
      () => [BODY, { ...signed(), 'webhook-timestamp': '1767225600.5' }],
      'webhook_timestamp_invalid',
      'webhook-timestamp is not a number',
    ],
  ])('refuses %s', async (_name, make, code, message) => {
    const [body, headers] = make()
    expect(await failure(body, headers)).toStrictEqual([code, message])
  })

  it('refuses a genuinely signed body that is not a JSON object, or whose id differs from webhook-id', async () => {
    expect(await failure('[1]', signed({ body: '[1]' }))).toStrictEqual([
      'webhook_payload_invalid',
      'the webhook body is not an object',
    ])
    expect(await failure('nope', signed({ body: 'nope' }))).toStrictEqual([
      'webhook_payload_invalid',
      'the webhook body is not JSON',
    ])
    const other = JSON.stringify({ id: 'msg_else', type: 'session.ended' })
    expect(await failure(other, signed({ body: other }))).toStrictEqual([
      'webhook_payload_invalid',
      'the body id differs from webhook-id',
    ])
  })

  it('a malformed secret is invalid_options, not a failed verification', async () => {
    for (const secret of [
      'plain-secret-of-enough-length-0123456789',
      'whsec_',
      'whsec_c2hvcnQ=',
      [],
    ]) {
      const [code] = await failure(BODY, signed(), { secret: secret as string })
      expect(code).toBe('invalid_options')
    }
  })

  it('the signature is the HMAC-SHA256 of id.timestamp.body under the decoded secret', async () => {
    const key = Buffer.from(SECRET.slice(6), 'base64')
    const mac = createHmac('sha256', key).update(`${ID}.${NOW_S}.${BODY}`).digest('base64')
    const headers = {
      'webhook-id': ID,
      'webhook-timestamp': String(NOW_S),
      'webhook-signature': `v1,${mac}`,
    }
    expect((await verifyWebhook(BODY, headers, opts())).id).toBe(ID)
    expect(signed()['webhook-signature']).toBe(`v1,${mac}`)
  })
})
