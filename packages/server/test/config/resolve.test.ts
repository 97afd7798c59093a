import { describe, expect, it } from 'vitest'
import { ConfigError, type ClientConfig } from '../../src/config/config.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import { registrationProblem } from '../../src/oauth/redirect-uri.js'

const base: ConfigInput = {
  issuer: 'https://auth.example.com',
  secret: 'x'.repeat(32),
  apis: [{ audience: 'https://api.example.com' }],
}

function clientWith(c: Partial<ClientConfig>): ConfigInput {
  return { ...base, clients: [{ id: 'app', redirectUris: ['https://app.example.com/cb'], ...c }] }
}

function errorOf(input: ConfigInput): { setting: string; message: string } | undefined {
  try {
    resolveConfig(input)
    return undefined
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return { setting: err.setting, message: err.message }
  }
}

describe('RDR-03 redirect URIs that cannot be registered', () => {
  it.each([
    ['https://app.example.com/cb#frag', 'web', 'must not contain a fragment'],
    ['https://app.example.com/cb#', 'web', 'must not contain a fragment'],
    [
      'http://app.example.com/cb',
      'web',
      'must use https (http is allowed only for loopback addresses)',
    ],
    [
      'http://app.example.com/cb',
      'native',
      'must use https (http is allowed only for loopback addresses)',
    ],
    [
      'http://10.0.0.1/cb',
      'native',
      'must use https (http is allowed only for loopback addresses)',
    ],
    [
      'myapp:/callback',
      'native',
      'a private-use URI scheme must be a reverse domain name (contain a dot)',
    ],
    [
      'com.example.app:/callback',
      'web',
      'private-use URI schemes are allowed only for native clients',
    ],
    ['javascript:alert(1)', 'native', 'must not use the javascript: scheme'],
    ['data:text/html,hi', 'native', 'must not use the data: scheme'],
    ['https://user:pw@app.example.com/cb', 'web', 'must not contain credentials'],
    ['/relative/cb', 'web', 'is not an absolute URI'],
  ] as const)('%s for a %s client: %s', (uri, type, problem) => {
    expect(registrationProblem(uri, type)).toBe(problem)
    expect(errorOf(clientWith({ applicationType: type, redirectUris: [uri] }))).toEqual({
      setting: 'clients[0].redirectUris[0]',
      message: `invalid configuration: clients[0].redirectUris[0]: ${problem}`,
    })
  })

  it.each([
    ['https://app.example.com/cb', 'web'],
    ['https://app.example.com/cb?x=1', 'web'],
    ['http://127.0.0.1/cb', 'native'],
    ['http://[::1]:8080/cb', 'native'],
    ['http://localhost:3000/cb', 'web'],
    ['com.example.app:/callback', 'native'],
  ] as const)('%s for a %s client can be registered', (uri, type) => {
    expect(registrationProblem(uri, type)).toBeUndefined()
    expect(errorOf(clientWith({ applicationType: type, redirectUris: [uri] }))).toBeUndefined()
  })

  it('post-logout redirect URIs follow the same rules', () => {
    expect(
      errorOf(clientWith({ postLogoutRedirectUris: ['http://evil.example.com/'] }))?.setting,
    ).toBe('clients[0].postLogoutRedirectUris[0]')
  })
})

describe('configuration is validated when it is built, naming the setting', () => {
  it.each<[string, ConfigInput, string]>([
    ['no issuer', { ...base, issuer: undefined }, 'issuer'],
    ['issuer with a query', { ...base, issuer: 'https://a.example.com/?x' }, 'issuer'],
    ['http issuer outside dev', { ...base, issuer: 'http://auth.example.com' }, 'issuer'],
    ['short secret', { ...base, secret: 'short' }, 'secret'],
    ['unknown signing alg', { ...base, signingAlg: 'HS256' as never }, 'signingAlg'],
    ['fractional port', { ...base, port: 1.5 }, 'port'],
    ['API that is not a URI', { ...base, apis: [{ audience: 'orders' }] }, 'apis[0].audience'],
    [
      'API listed twice',
      { ...base, apis: [{ audience: 'https://a.example' }, { audience: 'https://a.example' }] },
      'apis[1].audience',
    ],
    // TOK-08: a client id can never be mistaken for a user subject.
    ['client id shaped like a user subject', clientWith({ id: 'usr_abc' }), 'clients[0].id'],
    [
      'client audience not configured',
      clientWith({ audiences: ['https://other.example'] }),
      'clients[0].audiences[0]',
    ],
    ['short client secret', clientWith({ secret: 'too-short' }), 'clients[0].secret'],
    [
      'secret with auth method none',
      clientWith({ secret: 'y'.repeat(40), tokenEndpointAuthMethod: 'none' }),
      'clients[0].tokenEndpointAuthMethod',
    ],
    [
      'client_credentials for a public client',
      clientWith({ grantTypes: ['client_credentials'] }),
      'clients[0].grantTypes',
    ],
    [
      'grace window over 5 minutes',
      clientWith({ refreshGraceSeconds: 301 }),
      'clients[0].refreshGraceSeconds',
    ],
    [
      'code flow without redirect URIs',
      clientWith({ redirectUris: [] }),
      'clients[0].redirectUris',
    ],
    [
      'throttle rule without a limit',
      { ...base, throttle: { signInPerIp: { windowSeconds: 60 } } },
      'throttle.signInPerIp.limit',
    ],
    [
      'unknown throttle rule',
      { ...base, throttle: { signInPerUser: { limit: 1, windowSeconds: 60 } } as never },
      'throttle.signInPerUser',
    ],
    [
      'delayMs on a rule that refuses',
      { ...base, throttle: { signInPerIp: { limit: 1, windowSeconds: 60, delayMs: 5 } as never } },
      'throttle.signInPerIp.delayMs',
    ],
    [
      'slowing delay over 30 s',
      {
        ...base,
        throttle: { signInPerAccount: { limit: 100, windowSeconds: 900, delayMs: 30_001 } },
      },
      'throttle.signInPerAccount.delayMs',
    ],
    [
      'throttle rule that is not an object',
      { ...base, throttle: { adminPerIp: 20 as never } },
      'throttle.adminPerIp',
    ],
  ])('%s -> %s', (_name, input, setting) => {
    expect(errorOf(input)?.setting).toBe(setting)
  })

  it('applies the documented defaults', () => {
    const c = resolveConfig(clientWith({}))
    expect(c).toMatchObject({
      issuer: 'https://auth.example.com',
      port: 4000,
      signingAlg: 'ES256',
      jwksMaxAgeSeconds: 300,
      idTokenTtlSeconds: 3600,
      codeTtlSeconds: 60,
      maintenanceIntervalSeconds: 60,
      bodyLimit: 65_536,
      trustProxy: [],
    })
    // No grace settings: the refresh grant applies the defaults of graceWindow by type (REL-15).
    expect(c.clients[0]!.refreshGraceSeconds).toBeUndefined()
    expect(c.clients[0]!.refreshGraceMaxUses).toBeUndefined()
    expect(c.clients[0]).toMatchObject({
      tokenEndpointAuthMethod: 'none',
      sessionIdleSeconds: 14 * 86_400,
      sessionAbsoluteSeconds: 90 * 86_400,
      grantTypes: ['authorization_code', 'refresh_token'],
    })
    expect(c.apis[0]).toMatchObject({ accessTokenTtlSeconds: 900, scopes: [], userClaims: [] })
  })
})

describe('DOS-02 throttle.signInPerAccount slows, never refuses', () => {
  it('a rule written before delayMs existed keeps starting the server, with the default 2000 ms delay', () => {
    const c = resolveConfig({
      ...base,
      throttle: { signInPerAccount: { limit: 10, windowSeconds: 900 } },
    })
    expect(c.throttle.signInPerAccount).toStrictEqual({
      limit: 10,
      windowSeconds: 900,
      delayMs: 2000,
    })
  })

  it('an explicit delay is kept', () => {
    const c = resolveConfig({
      ...base,
      throttle: { signInPerAccount: { limit: 50, windowSeconds: 600, delayMs: 0 } },
    })
    expect(c.throttle.signInPerAccount).toStrictEqual({ limit: 50, windowSeconds: 600, delayMs: 0 })
  })
})

describe('REL-14 database.busyTimeoutMs (SQLite)', () => {
  const sqlite = (extra: Record<string, unknown>): ConfigInput => ({
    ...base,
    database: { driver: 'sqlite', file: '/tmp/t.db', ...extra },
  })

  it('is accepted from 0 to 600000 and kept', () => {
    expect(resolveConfig(sqlite({ busyTimeoutMs: 0 })).database).toStrictEqual({
      driver: 'sqlite',
      file: '/tmp/t.db',
      busyTimeoutMs: 0,
    })
    expect(resolveConfig(sqlite({ busyTimeoutMs: 600_000 })).database).toMatchObject({
      busyTimeoutMs: 600_000,
    })
  })

  it.each([-1, 600_001, 1.5, '5000'])('%s is refused with the setting named', (v) => {
    expect(errorOf(sqlite({ busyTimeoutMs: v }))).toStrictEqual({
      setting: 'database.busyTimeoutMs',
      message:
        'invalid configuration: database.busyTimeoutMs: must be a whole number from 0 to 600000',
    })
  })

  it('an unknown SQLite setting is refused', () => {
    expect(errorOf(sqlite({ poolSize: 3 }))?.setting).toBe('database.poolSize')
  })
})

describe('internal listeners and HTTP limits (admin.port, metrics.port, http.*)', () => {
  it('default: no internal listener, the documented timeouts and limits', () => {
    const c = resolveConfig({ ...base, host: '0.0.0.0' })
    expect(c.admin).toMatchObject({ port: undefined, host: '0.0.0.0' })
    expect(c.metrics).toStrictEqual({ port: undefined, host: '0.0.0.0' })
    expect(c.http).toStrictEqual({
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 72_000,
      maxConnections: 10_000,
      maxHeaderSize: 16_384,
    })
  })

  it('ports, addresses and limits are kept; the admin settings beside them stay', () => {
    const c = resolveConfig({
      ...base,
      admin: { port: 4001, host: '127.0.0.1', consoleIdleSeconds: 600 },
      metrics: { port: 9464, host: '10.0.0.5' },
      http: { headersTimeoutMs: 5000, maxConnections: 50 },
    })
    expect(c.admin).toMatchObject({ port: 4001, host: '127.0.0.1', consoleIdleSeconds: 600 })
    expect(c.metrics).toStrictEqual({ port: 9464, host: '10.0.0.5' })
    expect(c.http).toMatchObject({ headersTimeoutMs: 5000, maxConnections: 50 })
    // The same port for both: one internal listener, so one address.
    expect(
      resolveConfig({ ...base, admin: { port: 4001 }, metrics: { port: 4001 } }).metrics.port,
    ).toBe(4001)
    // Port 0 everywhere (tests): each listener picks its own.
    expect(
      resolveConfig({ ...base, port: 0, admin: { port: 0 }, metrics: { port: 0 } }),
    ).toMatchObject({
      port: 0,
      admin: { port: 0 },
      metrics: { port: 0 },
    })
  })

  it.each([
    [
      'admin.port out of range',
      { admin: { port: 70_000 } },
      'admin.port',
      'must be a whole number from 0 to 65535',
    ],
    [
      'admin.port as a string',
      { admin: { port: '4001' as never } },
      'admin.port',
      'must be a whole number from 0 to 65535',
    ],
    [
      'admin.port the public port',
      { admin: { port: 4000 } },
      'admin.port',
      'must differ from port (the public listener)',
    ],
    ['admin.host empty', { admin: { port: 4001, host: '' } }, 'admin.host', 'must be an address'],
    [
      'metrics.port negative',
      { metrics: { port: -1 } },
      'metrics.port',
      'must be a whole number from 0 to 65535',
    ],
    [
      'metrics.port the public port',
      { port: 8080, metrics: { port: 8080 } },
      'metrics.port',
      'must differ from port (the public listener)',
    ],
    [
      'metrics on the admin port at another address',
      { admin: { port: 4001 }, metrics: { port: 4001, host: '0.0.0.0' } },
      'metrics.host',
      'must equal admin.host when metrics.port is admin.port (one listener)',
    ],
    [
      'an unknown metrics setting',
      { metrics: { path: '/m' } as never },
      'metrics.path',
      'is not a known setting',
    ],
    ['metrics not an object', { metrics: 9464 as never }, 'metrics', 'must be an object'],
    [
      'an unknown http setting',
      { http: { timeout: 5 } as never },
      'http.timeout',
      'is not a known setting',
    ],
    [
      'a headers timeout below 100 ms',
      { http: { headersTimeoutMs: 50 } },
      'http.headersTimeoutMs',
      'must be a whole number from 100 to 300000',
    ],
    [
      'no connection at all',
      { http: { maxConnections: 0 } },
      'http.maxConnections',
      'must be a whole number from 1 to 1000000',
    ],
    [
      'a header limit above 64 KiB',
      { http: { maxHeaderSize: 65_537 } },
      'http.maxHeaderSize',
      'must be a whole number from 4096 to 65536',
    ],
    [
      'a keep-alive timeout of 0',
      { http: { keepAliveTimeoutMs: 0 } },
      'http.keepAliveTimeoutMs',
      'must be a whole number from 100 to 600000',
    ],
    [
      'a request timeout shorter than the headers timeout',
      { http: { headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } },
      'http.requestTimeoutMs',
      'must be at least http.headersTimeoutMs',
    ],
  ] as [string, Partial<ConfigInput>, string, string][])(
    '%s is refused naming %s',
    (_n, extra, setting, reason) => {
      expect(errorOf({ ...base, ...extra })).toStrictEqual({
        setting,
        message: `invalid configuration: ${setting}: ${reason}`,
      })
    },
  )
})

describe('retention settings', () => {
  it('defaults: ended sessions and browser sessions 30 days, events 90 days, batches of 500', () => {
    expect(resolveConfig(base).retention).toEqual({
      sessionsSeconds: 2_592_000,
      browserSessionsSeconds: 2_592_000,
      eventsSeconds: 7_776_000,
      batchSize: 500,
    })
  })

  it('0 keeps forever; an hour to 10 years otherwise', () => {
    const r = resolveConfig({
      ...base,
      retention: { sessionsSeconds: 0, browserSessionsSeconds: 3600, eventsSeconds: 315_360_000 },
    }).retention
    expect(r).toMatchObject({ sessionsSeconds: 0, browserSessionsSeconds: 3600 })
  })

  it.each<[string, unknown, string, string]>([
    [
      'a retention under an hour',
      { sessionsSeconds: 60 },
      'retention.sessionsSeconds',
      'must be a whole number from 3600 to 315360000',
    ],
    [
      'a retention over 10 years',
      { eventsSeconds: 315_360_001 },
      'retention.eventsSeconds',
      'must be a whole number from 3600 to 315360000',
    ],
    [
      'a retention as text',
      { browserSessionsSeconds: '3600' },
      'retention.browserSessionsSeconds',
      'must be a whole number from 3600 to 315360000',
    ],
    [
      'a negative retention',
      { eventsSeconds: -1 },
      'retention.eventsSeconds',
      'must be a whole number from 3600 to 315360000',
    ],
    [
      'a batch of 5',
      { batchSize: 5 },
      'retention.batchSize',
      'must be a whole number from 10 to 10000',
    ],
    [
      'a misspelt key',
      { sessionSeconds: 3600 },
      'retention.sessionSeconds',
      'is not a retention setting',
    ],
    ['not an object', 30, 'retention', 'must be an object'],
  ])('%s is refused naming %s', (_name, retention, setting, reason) => {
    expect(errorOf({ ...base, retention: retention as ConfigInput['retention'] })).toEqual({
      setting,
      message: `invalid configuration: ${setting}: ${reason}`,
    })
  })
})
