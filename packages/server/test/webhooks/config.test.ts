import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { endpointId } from '../../src/config/resolve-webhooks.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import { TEST_SECRET } from '../helpers/test-server.js'

const KEY = Buffer.alloc(32, 7)
const SECRET = `whsec_${KEY.toString('base64')}`
const URL = 'https://hooks.example.test/tessera'

function resolve(webhooks: unknown, extra: Partial<ConfigInput> = {}) {
  return resolveConfig({
    issuer: 'https://auth.example.test',
    secret: TEST_SECRET,
    webhooks: webhooks as ConfigInput['webhooks'],
    ...extra,
  })
}

function refusal(webhooks: unknown, extra: Partial<ConfigInput> = {}): [string, string] {
  try {
    resolve(webhooks, extra)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return [(err as ConfigError).setting, (err as Error).message]
  }
  return ['accepted', '']
}

const FORMAT = 'must be whsec_ followed by the base64 of 32 to 64 random bytes'

describe('webhook settings are validated at start-up', () => {
  it('defaults: no endpoints, 10 s timeout, 24 h of retries, 7 days of records', () => {
    expect(resolve(undefined).webhooks).toStrictEqual({
      endpoints: [],
      timeoutSeconds: 10,
      retryForSeconds: 86_400,
      retentionSeconds: 604_800,
    })
  })

  it('an endpoint resolves to an id from its URL, its decoded keys and every event by default', () => {
    const w = resolve({ endpoints: [{ url: URL, secret: SECRET }] }).webhooks
    expect(w.endpoints).toStrictEqual([
      {
        id: endpointId(URL),
        url: URL,
        keys: [KEY],
        events: [
          'session.ended',
          'session.revoked',
          'session.expired',
          'session.abandoned',
          'session.removed',
          'session.replaced',
          'session.reuse_detected',
        ],
      },
    ])
    expect(endpointId(URL)).toMatch(/^ep_[A-Za-z0-9_-]{16}$/)
    const two = resolve({
      endpoints: [
        { url: URL, secret: [SECRET, `whsec_${Buffer.alloc(64, 1).toString('base64')}`] },
      ],
    })
    expect(two.webhooks.endpoints[0]!.keys.map((k) => k.length)).toStrictEqual([32, 64])
    expect(
      resolve({ endpoints: [{ url: 'http://127.0.0.1:9/x', secret: SECRET }] }).webhooks
        .endpoints[0]!.url,
    ).toBe('http://127.0.0.1:9/x')
  })

  it.each<[string, unknown, string, string]>([
    ['not an object', [], 'webhooks', 'must be an object with an endpoints list'],
    ['endpoints not a list', { endpoints: {} }, 'webhooks.endpoints', 'must be a list'],
    ['endpoint not an object', { endpoints: ['x'] }, 'webhooks.endpoints[0]', 'must be an object'],
    [
      'unknown endpoint key',
      { endpoints: [{ url: URL, secret: SECRET, retries: 3 }] },
      'webhooks.endpoints[0].retries',
      'is not a known setting',
    ],
    [
      'relative URL',
      { endpoints: [{ url: '/hook', secret: SECRET }] },
      'webhooks.endpoints[0].url',
      'must be an absolute URL',
    ],
    [
      'plain http off loopback',
      { endpoints: [{ url: 'http://hooks.example.test/x', secret: SECRET }] },
      'webhooks.endpoints[0].url',
      'must use https (http only for a loopback address)',
    ],
    [
      'credentials in the URL',
      { endpoints: [{ url: 'https://u:p@hooks.example.test/x', secret: SECRET }] },
      'webhooks.endpoints[0].url',
      'must not contain credentials',
    ],
    [
      'a fragment',
      { endpoints: [{ url: URL + '#x', secret: SECRET }] },
      'webhooks.endpoints[0].url',
      'must not contain a fragment',
    ],
    [
      'the same URL twice',
      {
        endpoints: [
          { url: URL, secret: SECRET },
          { url: URL, secret: SECRET },
        ],
      },
      'webhooks.endpoints[1].url',
      'is listed twice',
    ],
    [
      'no secret',
      { endpoints: [{ url: URL }] },
      'webhooks.endpoints[0].secret',
      'must be a secret, or a list of two during a rotation',
    ],
    [
      'a plain string secret',
      { endpoints: [{ url: URL, secret: 'x'.repeat(40) }] },
      'webhooks.endpoints[0].secret',
      FORMAT,
    ],
    [
      'a short key (31 bytes)',
      { endpoints: [{ url: URL, secret: `whsec_${Buffer.alloc(31).toString('base64')}` }] },
      'webhooks.endpoints[0].secret',
      FORMAT,
    ],
    [
      'a long key (65 bytes)',
      { endpoints: [{ url: URL, secret: `whsec_${Buffer.alloc(65).toString('base64')}` }] },
      'webhooks.endpoints[0].secret',
      FORMAT,
    ],
    [
      'base64url instead of base64',
      { endpoints: [{ url: URL, secret: `whsec_${Buffer.alloc(32, 251).toString('base64url')}` }] },
      'webhooks.endpoints[0].secret',
      FORMAT,
    ],
    [
      'three secrets',
      { endpoints: [{ url: URL, secret: [SECRET, SECRET, SECRET] }] },
      'webhooks.endpoints[0].secret',
      'must be a secret, or a list of two during a rotation',
    ],
    [
      'a bad secret in a rotation list',
      { endpoints: [{ url: URL, secret: [SECRET, 'nope'] }] },
      'webhooks.endpoints[0].secret[1]',
      FORMAT,
    ],
    [
      'an unknown event type',
      { endpoints: [{ url: URL, secret: SECRET, events: ['session.created'] }] },
      'webhooks.endpoints[0].events[0]',
      'must be one of session.ended, session.revoked, session.expired, session.abandoned, session.removed, session.replaced, session.reuse_detected',
    ],
    [
      'an empty event list',
      { endpoints: [{ url: URL, secret: SECRET, events: [] }] },
      'webhooks.endpoints[0].events',
      'must be a non-empty list of event types',
    ],
    [
      'timeout 0',
      { timeoutSeconds: 0 },
      'webhooks.timeoutSeconds',
      'must be a whole number from 1 to 60',
    ],
    [
      'retry horizon under a minute',
      { retryForSeconds: 59 },
      'webhooks.retryForSeconds',
      'must be a whole number from 60 to 259200',
    ],
    [
      'retention not longer than the retry horizon',
      { retryForSeconds: 7200, retentionSeconds: 7200 },
      'webhooks.retentionSeconds',
      'must be longer than retryForSeconds',
    ],
  ])('refuses %s', (_name, webhooks, setting, message) => {
    expect(refusal(webhooks)).toStrictEqual([
      setting,
      `invalid configuration: ${setting}: ${message}`,
    ])
  })

  it('dev mode allows a plain http endpoint anywhere', () => {
    const w = resolve(
      { endpoints: [{ url: 'http://hooks.example.test/x', secret: SECRET }] },
      { dev: true, issuer: 'http://localhost:4000' },
    ).webhooks
    expect(w.endpoints).toHaveLength(1)
    expect(w.endpoints[0]).toMatchObject({
      id: endpointId('http://hooks.example.test/x'),
      url: 'http://hooks.example.test/x',
      keys: [KEY],
    })
  })
})

describe('account settings', () => {
  it('maxAuthAgeSeconds defaults to 300 and is bounded', () => {
    expect(resolve(undefined).account).toStrictEqual({ maxAuthAgeSeconds: 300 })
    expect(refusal(undefined, { account: { maxAuthAgeSeconds: 86_401 } })).toStrictEqual([
      'account.maxAuthAgeSeconds',
      'invalid configuration: account.maxAuthAgeSeconds: must be a whole number from 0 to 86400',
    ])
  })
})
