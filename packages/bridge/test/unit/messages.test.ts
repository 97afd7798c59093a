/**
 * The protocol's schema as a table: each row is a message and whether `parseMessage` accepts it
 * as one of the types the receiver expects. Anything not exactly a message of this version is
 * rejected (BRG-01): the receiver then ignores it.
 */
import { describe, expect, it } from 'vitest'
import { parseMessage, type BridgeMessage } from '../../src/index.js'
import { BridgeError, BridgeHost } from '../../src/index.js'
import { createFrameClient } from '../../src/index.js'

const env = { tessera: 'tessera-bridge', v: 1 } as const
const ID = 'abcdEFGH1234_-xy'
const AUD = 'https://orders.example.com'
const SNAPSHOT = {
  status: 'signed-in',
  isLoaded: true,
  isSignedIn: true,
  user: { sub: 'u1', name: 'Alice' },
  sessionId: 's1',
  sessionExpiresAt: 1_800_000_000_000,
  expireAt: 1_900_000_000_000,
  abandonAt: 1_800_000_000_000,
  lastActiveAt: 1_700_000_000_000,
  currentTask: null,
  reason: null,
  error: null,
  returnTo: null,
  locked: false,
}
const hello = { ...env, type: 'hello', id: ID }
const request = { ...env, type: 'token-request', id: ID, audience: AUD }

type Row = [name: string, data: unknown, types: BridgeMessage['type'][], ok: boolean]
const rows: Row[] = [
  ['hello', hello, ['hello'], true],
  ['hello of version 2', { ...hello, v: 2 }, ['hello'], false],
  ['hello with version "1" (a string)', { ...hello, v: '1' }, ['hello'], false],
  ['hello without a version', { tessera: env.tessera, type: 'hello', id: ID }, ['hello'], false],
  ['hello with an extra field', { ...hello, secret: 'x' }, ['hello'], false],
  ['hello without the protocol tag', { v: 1, type: 'hello', id: ID }, ['hello'], false],
  ['hello with another tag', { ...hello, tessera: 'penpal' }, ['hello'], false],
  ['hello with a 7-character id', { ...hello, id: 'abcdefg' }, ['hello'], false],
  ['hello with a 65-character id', { ...hello, id: 'a'.repeat(65) }, ['hello'], false],
  ['hello with an id holding a dot', { ...hello, id: 'abcd.efgh.ijkl' }, ['hello'], false],
  ['hello with a numeric id', { ...hello, id: 12345678 }, ['hello'], false],
  ['hello where a token request is expected', hello, ['token-request', 'bye'], false],
  ['a string', JSON.stringify(hello), ['hello'], false],
  ['null', null, ['hello'], false],
  ['an array', [hello], ['hello'], false],
  ['an object with a prototype', Object.assign(Object.create({ x: 1 }), hello), ['hello'], false],
  ['token request', request, ['token-request'], true],
  [
    'token request with a scope',
    { ...request, scope: 'orders:read orders:write' },
    ['token-request'],
    true,
  ],
  ['token request with refused: true', { ...request, refused: true }, ['token-request'], true],
  ['token request with refused: false', { ...request, refused: false }, ['token-request'], false],
  [
    'token request without an audience',
    { ...env, type: 'token-request', id: ID },
    ['token-request'],
    false,
  ],
  ['token request with an empty audience', { ...request, audience: '' }, ['token-request'], false],
  [
    'token request with a relative audience',
    { ...request, audience: '/orders' },
    ['token-request'],
    false,
  ],
  [
    'token request with a javascript: audience',
    { ...request, audience: 'javascript:alert(1)' },
    ['token-request'],
    false,
  ],
  [
    'token request with an audience array',
    { ...request, audience: [AUD] },
    ['token-request'],
    false,
  ],
  [
    'token request with an extra field',
    { ...request, origin: 'https://x.example' },
    ['token-request'],
    false,
  ],
  [
    'token request with a scope holding a quote',
    { ...request, scope: 'a"b' },
    ['token-request'],
    false,
  ],
  [
    'token request with a double space in the scope',
    { ...request, scope: 'a  b' },
    ['token-request'],
    false,
  ],
  ['bye', { ...env, type: 'bye', id: ID }, ['bye'], true],
  ['bye with a reason', { ...env, type: 'bye', id: ID, reason: 'x' }, ['bye'], false],
  [
    'welcome',
    { ...env, type: 'welcome', id: ID, audiences: [AUD], snapshot: SNAPSHOT },
    ['welcome'],
    true,
  ],
  [
    'welcome with returnTo set',
    {
      ...env,
      type: 'welcome',
      id: ID,
      audiences: [AUD],
      snapshot: { ...SNAPSHOT, returnTo: '/x' },
    },
    ['welcome'],
    false,
  ],
  [
    'welcome with an extra snapshot field',
    {
      ...env,
      type: 'welcome',
      id: ID,
      audiences: [AUD],
      snapshot: { ...SNAPSHOT, refreshToken: 'x' },
    },
    ['welcome'],
    false,
  ],
  [
    'welcome with an unknown status',
    {
      ...env,
      type: 'welcome',
      id: ID,
      audiences: [AUD],
      snapshot: { ...SNAPSHOT, status: 'weird' },
    },
    ['welcome'],
    false,
  ],
  [
    'welcome without a snapshot field',
    {
      ...env,
      type: 'welcome',
      id: ID,
      audiences: [AUD],
      snapshot: { ...SNAPSHOT, locked: undefined },
    },
    ['welcome'],
    false,
  ],
  [
    'token',
    { ...env, type: 'token', id: ID, audience: AUD, token: 'a.b.c' },
    ['token', 'error', 'session'],
    true,
  ],
  [
    'token with an empty token',
    { ...env, type: 'token', id: ID, audience: AUD, token: '' },
    ['token'],
    false,
  ],
  [
    'token with an expiry field',
    { ...env, type: 'token', id: ID, audience: AUD, token: 'a.b.c', exp: 1 },
    ['token'],
    false,
  ],
  ['error', { ...env, type: 'error', id: ID, code: 'signed_out', message: 'm' }, ['error'], true],
  [
    'error with an unknown code',
    { ...env, type: 'error', id: ID, code: 'teapot', message: 'm' },
    ['error'],
    false,
  ],
  [
    'error with a 501-character message',
    { ...env, type: 'error', id: ID, code: 'locked', message: 'm'.repeat(501) },
    ['error'],
    false,
  ],
  [
    'session',
    {
      ...env,
      type: 'session',
      id: 'session-push',
      snapshot: {
        ...SNAPSHOT,
        status: 'signed-out',
        isSignedIn: false,
        user: null,
        reason: 'sign_out',
      },
    },
    ['session'],
    true,
  ],
  [
    'session with an unknown reason',
    { ...env, type: 'session', id: 'session-push', snapshot: { ...SNAPSHOT, reason: 'because' } },
    ['session'],
    false,
  ],
  [
    'an unknown type',
    { ...env, type: 'get-refresh-token', id: ID },
    ['hello', 'token-request', 'bye'],
    false,
  ],
]

describe('BRG-01 the message schema', () => {
  it.each(rows)('%s', (_name, data, types, ok) => {
    const parsed = parseMessage(data, types)
    if (ok) expect(parsed).toBe(data)
    else expect(parsed).toBeNull()
  })
})

const session = {
  getToken: () => Promise.resolve('t'),
  getSnapshot: () => SNAPSHOT as never,
  subscribe: () => () => {},
  invalidateToken: () => {},
}

describe('registry and options are checked when built', () => {
  const table: [string, Record<string, unknown>, string][] = [
    ['a wildcard origin', { '*': { audiences: [AUD] } }, 'frames: * is not an origin'],
    [
      'an origin with a path',
      { 'https://a.example/app': { audiences: [AUD] } },
      'frames: https://a.example/app must be an exact origin (scheme://host[:port], no path or trailing slash)',
    ],
    [
      'an origin with a trailing slash',
      { 'https://a.example/': { audiences: [AUD] } },
      'frames: https://a.example/ must be an exact origin (scheme://host[:port], no path or trailing slash)',
    ],
    [
      'a default port spelled out',
      { 'https://a.example:443': { audiences: [AUD] } },
      'frames: https://a.example:443 must be an exact origin (scheme://host[:port], no path or trailing slash)',
    ],
    [
      'no audiences',
      { 'https://a.example': { audiences: [] } },
      'frames[https://a.example].audiences must list at least one',
    ],
    [
      'a wildcard audience',
      { 'https://a.example': { audiences: ['*'] } },
      'frames[https://a.example].audiences: * is invalid',
    ],
    [
      'a scope with a space',
      { 'https://a.example': { audiences: [AUD], scopes: ['a b'] } },
      'frames[https://a.example].scopes must be single scope names',
    ],
  ]
  it.each(table)('BridgeHost refuses %s', (_n, frames, message) => {
    let err: unknown
    try {
      new BridgeHost({ client: session, frames: frames as never })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(BridgeError)
    expect((err as BridgeError).code).toBe('configuration')
    expect((err as BridgeError).message).toBe(message)
  })

  it.each([
    ['*', 'shellOrigin must be an exact origin, never *'],
    [
      'https://app.example/',
      'shellOrigin: https://app.example/ must be an exact origin (scheme://host[:port], no path)',
    ],
    ['app.example', 'shellOrigin: app.example is not an origin'],
  ])('createFrameClient refuses shellOrigin %s', (shellOrigin, message) => {
    const win = {
      parent: null,
      addEventListener() {},
      removeEventListener() {},
    } as unknown as Window
    expect(() => createFrameClient({ shellOrigin, window: win })).toThrow(
      new BridgeError('configuration', message),
    )
  })
})
