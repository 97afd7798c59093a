/**
 * The settings of two-step verification, checked when the configuration is built, and bad input
 * at the code step: clear errors, nothing written.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import { browserFetch, CookieJar, rowCounts } from '../helpers/oauth-flow.js'
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js'

const base: ConfigInput = {
  issuer: 'https://auth.example.test',
  secret: TEST_SECRET,
  apis: [{ audience: 'https://api.example.test' }],
  clients: [{ id: 'app', redirectUris: ['https://app.example.test/cb'] }],
}

function settingOf(input: ConfigInput): string | undefined {
  try {
    resolveConfig(input)
  } catch (err) {
    if (err instanceof ConfigError) return `${err.setting}: ${err.message}`
    throw err
  }
  return undefined
}

describe('requireMfa and throttle.mfaPerAccount', () => {
  it('defaults: no requirement, 10 wrong codes per 900 s', () => {
    const c = resolveConfig(base)
    expect(c.throttle.mfaPerAccount).toEqual({ limit: 10, windowSeconds: 900 })
    expect(c.clients[0]?.requireMfa).toBeUndefined()
    expect(c.apis[0]?.requireMfa).toBeUndefined()
  })

  it('requireMfa must be a boolean, on a client and on an API; the rule replaces its default', () => {
    expect(
      settingOf({
        ...base,
        clients: [
          {
            id: 'app',
            redirectUris: ['https://app.example.test/cb'],
            requireMfa: 'yes' as unknown as boolean,
          },
        ],
      }),
    ).toMatch(/^clients\[0\]\.requireMfa: .*must be true or false/)
    expect(
      settingOf({
        ...base,
        apis: [{ audience: 'https://api.example.test', requireMfa: 1 as unknown as boolean }],
      }),
    ).toMatch(/^apis\[0\]\.requireMfa: .*must be true or false/)
    const c = resolveConfig({
      ...base,
      clients: [{ id: 'app', redirectUris: ['https://app.example.test/cb'], requireMfa: true }],
      throttle: { mfaPerAccount: { limit: 5, windowSeconds: 300 } },
    })
    expect(c.clients[0]?.requireMfa).toBe(true)
    expect(c.throttle.mfaPerAccount).toEqual({ limit: 5, windowSeconds: 300 })
    expect(
      settingOf({ ...base, throttle: { mfaPerAccount: { limit: 0, windowSeconds: 300 } } }),
    ).toMatch(/^throttle\.mfaPerAccount\.limit: /)
  })
})

describe('bad input at the code step', () => {
  let t: TestServer
  afterEach(async () => {
    await t.close()
  })

  it('a missing or forged transaction or challenge, or a body that is not a form, is a 400 page; nothing is signed in', async () => {
    t = await startTestServer()
    await t.createUser()
    const before = rowCounts(t)
    const jar = new CookieJar()
    const cases: Record<string, string>[] = [
      {},
      { tx: 'x', challenge: 'y', code: '123456' },
      { tx: 'eyJ9.x', challenge: 'eyJ1IjoiYSJ9.AAAA', code: '123456', csrf: 'z' },
    ]
    for (const form of cases) {
      const res = await browserFetch(jar, t.url + '/login/otp', { form })
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    }
    const json = await fetch(t.url + '/login/otp', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    expect(json.status).toBe(400)
    const get = await browserFetch(jar, t.url + '/login/otp?tx=nope')
    expect(get.status).toBe(400)
    expect(rowCounts(t)).toEqual(before)
    expect(jar.names()).not.toContain('tessera_sso')
  })
})
