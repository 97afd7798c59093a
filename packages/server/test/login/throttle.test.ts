import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { dummyPasswordHash } from '../../src/login/sign-in.js'
import type { UserRecord } from '../../src/store/types.js'
import {
  authorizationParams,
  CookieJar,
  formFields,
  openLogin,
  rowCounts,
  startAuthorize,
  submitLogin,
} from '../helpers/oauth-flow.js'
import { requestFrom } from '../helpers/grants.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

/** Failures of one username from one address before that address gets 429 for it. */
const ACCOUNT_LIMIT = 3
/** Failures of one username from all addresses before every attempt at it is slowed down. */
const GLOBAL_LIMIT = 6
const IP_LIMIT = 8
const WINDOW = 300

let t: TestServer
let alice: UserRecord
beforeEach(async () => {
  t = await startTestServer({
    config: {
      throttle: {
        signInPerAccountAndIp: { limit: ACCOUNT_LIMIT, windowSeconds: WINDOW },
        signInPerAccount: { limit: GLOBAL_LIMIT, windowSeconds: WINDOW, delayMs: 1 },
        signInPerIp: { limit: IP_LIMIT, windowSeconds: WINDOW },
      },
    },
  })
  // Start at the beginning of a throttle window, so Retry-After is the whole window.
  t.clock.set(Math.ceil(t.clock.now() / (WINDOW * 1000)) * WINDOW * 1000)
  alice = await t.createUser()
  await t.createUser('disabled-dan', 'dan password 1234')
  const dan = (await t.store.getUserByUsername('disabled-dan'))!
  await t.store.updateUser({ ...dan, disabled: true })
})
afterEach(async () => {
  await t.close()
})

/** One sign-in attempt from a fresh browser; returns status, the alert text and the response. */
async function attempt(username: string, password: string) {
  const jar = new CookieJar()
  const { params } = authorizationParams()
  const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
  const res = await submitLogin(t, login.fields, jar, username, password)
  const html = res.status === 303 ? '' : await res.text()
  return {
    status: res.status,
    alert: /<p class="alert" role="alert">([^<]*)<\/p>/.exec(html)?.[1],
    retryAfter: res.headers.get('retry-after'),
    res,
    html,
  }
}

const FAILED = 'Incorrect username or password.'

describe('REL-11 password brute force', () => {
  it('an account is locked for the address after the limit; even the right password then gets 429 with Retry-After', async () => {
    for (let i = 0; i < ACCOUNT_LIMIT; i++) {
      expect(await attempt('alice', `wrong ${i}`)).toMatchObject({
        status: 400,
        alert: FAILED,
        retryAfter: null,
      })
    }
    const locked = await attempt('alice', 'correct horse battery')
    expect(locked.status).toBe(429)
    expect(locked.retryAfter).toBe(String(WINDOW))
    expect(locked.alert).toBe('Too many sign-in attempts. Try again in 5 minutes.')
    expect(locked.res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(locked.res.headers.get('x-frame-options')).toBe('DENY')
    expect(rowCounts(t).live_browser_sessions).toBe(0)
  })

  it('a locked account does not grow its counter, and is not even checked', async () => {
    for (let i = 0; i < ACCOUNT_LIMIT; i++) await attempt('alice', `wrong ${i}`)
    const before = rowCounts(t)
    for (let i = 0; i < 5; i++)
      expect((await attempt('alice', `wrong again ${i}`)).status).toBe(429)
    const after = rowCounts(t)
    expect(after.throttle_hits).toBe(before.throttle_hits)
    expect(after.security_events).toBe(before.security_events)
  })

  it('after the window the account opens again', async () => {
    for (let i = 0; i < ACCOUNT_LIMIT; i++) await attempt('alice', `wrong ${i}`)
    t.clock.advance(WINDOW * 1000 - 1)
    expect((await attempt('alice', 'correct horse battery')).status).toBe(429)
    t.clock.advance(1)
    expect((await attempt('alice', 'correct horse battery')).status).toBe(303)
  })

  it('unknown usernames are throttled the same way, with the same texts', async () => {
    const known: string[] = []
    const unknown: string[] = []
    for (let i = 0; i < ACCOUNT_LIMIT + 1; i++) {
      const a = await attempt('alice', `wrong ${i}`)
      const b = await attempt('nobody-here', `wrong ${i}`)
      known.push(`${a.status} ${a.alert} ${a.retryAfter}`)
      unknown.push(`${b.status} ${b.alert} ${b.retryAfter}`)
    }
    expect(unknown).toEqual(known)
    expect(known.at(-1)).toBe(`429 Too many sign-in attempts. Try again in 5 minutes. ${WINDOW}`)
  })

  it('the error text is the same for an unknown user, a wrong password and a disabled account', async () => {
    const pages = [
      await attempt('nobody-here', 'whatever 1234'),
      await attempt('alice', 'wrong password'),
      await attempt('disabled-dan', 'dan password 1234'),
    ]
    for (const p of pages)
      expect({ status: p.status, alert: p.alert }).toEqual({ status: 400, alert: FAILED })
    // Same page apart from the per-request transaction, CSRF token and the typed username.
    const strip = (p: (typeof pages)[number]) =>
      p.html.replace(/name="(tx|csrf|username)" value="[^"]*"/g, '')
    expect(new Set(pages.map(strip)).size).toBe(1)
  })

  it('a successful sign-in resets the account counter', async () => {
    for (let i = 0; i < ACCOUNT_LIMIT - 1; i++) await attempt('alice', `wrong ${i}`)
    expect((await attempt('alice', 'correct horse battery')).status).toBe(303)
    for (let i = 0; i < ACCOUNT_LIMIT; i++)
      expect((await attempt('alice', `wrong ${i}`)).status).toBe(400)
    expect((await attempt('alice', 'wrong')).status).toBe(429)
  })

  it('the per-IP limit stops spraying across many usernames; other keys are unaffected by the account lock', async () => {
    for (let i = 0; i < IP_LIMIT; i++) {
      expect((await attempt(`user-${i}`, 'password guess')).status).toBe(400)
    }
    expect((await attempt('someone-new', 'password guess')).status).toBe(429)
    expect((await attempt('alice', 'correct horse battery')).status).toBe(429)
  })

  it('the username counter is case-insensitive, as usernames are', async () => {
    for (let i = 0; i < ACCOUNT_LIMIT; i++) await attempt(i % 2 ? 'ALICE' : 'Alice', `wrong ${i}`)
    expect((await attempt('alice', 'correct horse battery')).status).toBe(429)
  })

  it('the dummy hash for unknown usernames has the configured cost, so it costs what a real check costs', async () => {
    const dummy = await dummyPasswordHash(t.server.ctx)
    const cost = (h: string) => h.split('$').slice(0, 4).join('$')
    expect(cost(dummy)).toBe(cost(alice.passwordHash))
    expect(cost(dummy)).toBe('scrypt$1024$8$1')
  })
})

describe('sign-in events and metrics', () => {
  it('a failure records sign_in_failure with ip, user agent, client and reason', async () => {
    await attempt('alice', 'wrong password')
    t.clock.advance(1000)
    await attempt('nobody-here', 'wrong password')
    const events = await t.store.listEvents({ type: 'sign_in_failure' })
    expect(events.map((e) => ({ ...e, id: undefined, at: undefined }))).toEqual(
      [
        {
          id: undefined,
          at: undefined,
          type: 'sign_in_failure',
          userId: alice.id,
          clientId: 'web-app',
          sessionId: null,
          ip: '127.0.0.1',
          userAgent: 'node',
          data: { reason: 'wrong_password' },
        },
        {
          id: undefined,
          at: undefined,
          type: 'sign_in_failure',
          userId: null,
          clientId: 'web-app',
          sessionId: null,
          ip: '127.0.0.1',
          userAgent: 'node',
          data: { reason: 'unknown_user' },
        },
      ].reverse(),
    )
  })

  it('a success records sign_in_success; metrics count results', async () => {
    await attempt('alice', 'wrong password')
    await attempt('alice', 'correct horse battery')
    for (let i = 0; i < ACCOUNT_LIMIT; i++) await attempt('bob', 'wrong password')
    await attempt('bob', 'wrong password')
    const [ok] = await t.store.listEvents({ type: 'sign_in_success' })
    expect(ok).toMatchObject({
      userId: alice.id,
      clientId: 'web-app',
      ip: '127.0.0.1',
      userAgent: 'node',
      data: { amr: ['pwd'] },
    })
    const metrics = await (await fetch(t.url + '/metrics')).text()
    expect(metrics).toContain('tessera_sign_ins_total{result="failure"} 4')
    expect(metrics).toContain('tessera_sign_ins_total{result="success"} 1')
    expect(metrics).toContain('tessera_sign_ins_total{result="throttled"} 1')
  })

  it('the password never reaches the events table or the re-rendered form', async () => {
    await attempt('alice', 'hunter2-secret-password')
    const all = JSON.stringify(await t.store.listEvents({}))
    expect(all).not.toContain('hunter2-secret-password')
    expect(formFields((await attempt('alice', 'hunter2-secret-password')).html).password).toBe('')
  })
})

describe('DOS-02 wrong passwords for one username from many addresses', () => {
  /** One sign-in attempt whose form is posted from the loopback source address `ip`. */
  async function attemptFrom(ip: string, username: string, password: string) {
    const jar = new CookieJar()
    const { params } = authorizationParams()
    const login = await openLogin(t, await startAuthorize(t, params, jar), jar)
    const form = new URLSearchParams({ ...login.fields, username, password }).toString()
    const res = await requestFrom(
      ip,
      'POST',
      t.url + '/login',
      jar.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
      form,
    )
    const html = typeof res.body === 'string' ? res.body : ''
    return {
      status: res.status,
      alert: /<p class="alert" role="alert">([^<]*)<\/p>/.exec(html)?.[1],
      location: res.headers.get('location'),
    }
  }
  const slowdowns = async () => {
    const m = /^tessera_sign_in_slowdowns_total (\d+)$/m.exec(
      await (await fetch(t.url + '/metrics')).text(),
    )
    return Number(m?.[1] ?? 0)
  }
  const attackers = ['127.0.3.1', '127.0.3.2', '127.0.3.3', '127.0.3.4']

  it('DOS-02 the owner signs in from another address while an attack runs; the attacking addresses are refused, even with the right password', async () => {
    for (const ip of attackers) {
      for (let i = 0; i < ACCOUNT_LIMIT; i++) {
        expect(await attemptFrom(ip, 'alice', `guess ${ip} ${i}`)).toMatchObject({
          status: 400,
          alert: FAILED,
        })
      }
      expect(await attemptFrom(ip, 'alice', 'correct horse battery')).toMatchObject({
        status: 429,
        alert: 'Too many sign-in attempts. Try again in 5 minutes.',
      })
    }
    // 12 failures on the account, twice the global limit: every attempt is now slowed down ...
    expect(await slowdowns()).toBe(ACCOUNT_LIMIT * attackers.length - GLOBAL_LIMIT)
    // ... but the owner is not refused: a typo is an ordinary failure, the password signs in.
    expect(await attemptFrom('127.0.3.99', 'alice', 'correct horse batery')).toMatchObject({
      status: 400,
      alert: FAILED,
    })
    const owner = await attemptFrom('127.0.3.99', 'alice', 'correct horse battery')
    expect(owner.status).toBe(303)
    expect(owner.location).toMatch(/^https:\/\/app\.example\.test\/callback\?code=/)
    expect(await slowdowns()).toBe(ACCOUNT_LIMIT * attackers.length - GLOBAL_LIMIT + 2)
    expect(rowCounts(t).live_browser_sessions).toBe(1)
    // The owner's success does not clear the attackers' blocks.
    expect((await attemptFrom(attackers[0]!, 'alice', 'correct horse battery')).status).toBe(429)
    // Slowed failures are marked in their security events: the attackers' failures past the
    // account-wide limit and the owner's typo, and no other. (Events in one millisecond have no
    // order, so they are counted, not read by position.)
    const failures = await t.store.listEvents({ type: 'sign_in_failure', limit: 1000 })
    const slowed = failures.filter((e) => (e.data as { slowed?: boolean } | null)?.slowed === true)
    expect(slowed.map((e) => e.data)).toStrictEqual(
      Array.from({ length: ACCOUNT_LIMIT * attackers.length - GLOBAL_LIMIT + 1 }, () => ({
        reason: 'wrong_password',
        slowed: true,
      })),
    )
    expect(failures.length - slowed.length).toBe(GLOBAL_LIMIT)
  })

  it('DOS-02 a blocked address is blocked for that username only; unknown usernames behave the same', async () => {
    const ip = '127.0.3.50'
    for (let i = 0; i < ACCOUNT_LIMIT; i++) {
      expect((await attemptFrom(ip, 'nobody-here', `guess ${i}`)).status).toBe(400)
    }
    expect((await attemptFrom(ip, 'nobody-here', 'guess')).status).toBe(429)
    expect((await attemptFrom(ip, 'alice', 'correct horse battery')).status).toBe(303)
    expect((await attemptFrom('127.0.3.51', 'nobody-here', 'guess')).status).toBe(400)
  })
})

describe('REL-11 default limits', () => {
  it('the defaults allow at most 100 failures an hour per account from one address, and slow down (never refuse) past 100 per 15 minutes from all', async () => {
    const { resolveConfig } = await import('../../src/config/resolve.js')
    const c = resolveConfig({ issuer: 'https://auth.example.test', secret: 'x'.repeat(32) })
    const perHour = (r: { limit: number; windowSeconds: number }) =>
      (r.limit * 3600) / r.windowSeconds
    expect(perHour(c.throttle.signInPerAccountAndIp)).toBeLessThanOrEqual(100)
    expect(c.throttle.signInPerAccountAndIp).toEqual({ limit: 10, windowSeconds: 900 })
    expect(c.throttle.signInPerAccount).toEqual({ limit: 100, windowSeconds: 900, delayMs: 2000 })
    expect(c.throttle.signInPerIp).toEqual({ limit: 100, windowSeconds: 900 })
  })
})
