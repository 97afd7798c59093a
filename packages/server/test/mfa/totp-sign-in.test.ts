/**
 * TOTP (RFC 6238) as the second sign-in step, against a real server with a fake clock: the ±1 step
 * window, no reuse, recovery codes, the per-account throttle, storage at rest, and the claims.
 */
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { totpCode } from '../../src/mfa/totp.js'
import { browserFetch, type CookieJar } from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import {
  claims,
  codeAt,
  codeFrom,
  enrolTotp,
  passwordStep,
  redeem,
  submitCode,
  type Enrolment,
} from './mfa-helpers.js'

let t: TestServer
beforeEach(async () => {
  t = await startTestServer()
  await t.createUser()
})
afterEach(async () => {
  await t.close()
})

/** Signs alice in (no authenticator yet) and enrols one in the same browser. */
async function enrolled(): Promise<Enrolment & { jar: CookieJar }> {
  const first = await passwordStep(t)
  expect(first.res.status).toBe(303)
  const e = await enrolTotp(t, first.jar)
  // Far from the enrolment's step, so its last_step does not interfere.
  t.clock.advance(3600_000)
  return { ...e, jar: first.jar }
}

/** A fresh browser's password step: the code form's HTML. */
async function codeForm(): Promise<{
  html: string
  jar: CookieJar
  flow: Awaited<ReturnType<typeof passwordStep>>
}> {
  const flow = await passwordStep(t)
  const html = await flow.res.text()
  expect(flow.res.status, html.slice(0, 200)).toBe(200)
  expect(html).toContain('Two-step verification')
  return { html, jar: flow.jar, flow }
}

function db(): BetterSqlite3.Database {
  return new BetterSqlite3(t.dbFile, { readonly: true, fileMustExist: true })
}

describe('MFA-01 TOTP at sign-in', () => {
  it('RFC 6238 appendix B vectors (SHA-1, last six digits)', () => {
    const secret = Buffer.from('12345678901234567890')
    const table: [number, string][] = [
      [59, '287082'],
      [1111111109, '081804'],
      [1111111111, '050471'],
      [1234567890, '005924'],
      [2000000000, '279037'],
      [20000000000, '353130'],
    ]
    for (const [seconds, code] of table)
      expect(totpCode(secret, Math.floor(seconds / 30))).toBe(code)
  })

  it('MFA-01 a user with an authenticator gets the code step after the password, and no code without it', async () => {
    await enrolled()
    const { flow } = await codeForm()
    // No SSO session was started by the password alone.
    expect(flow.jar.names()).not.toContain('tessera_sso')
  })

  it('MFA-01 window edges: codes of the steps t-1, t and t+1 pass; t-2 and t+2 are refused', async () => {
    const e = await enrolled()
    for (const offset of [-2, 2]) {
      const f = await codeForm()
      const res = await submitCode(t, f.jar, f.html, codeAt(t, e.secret, offset))
      expect(res.status).toBe(400)
      expect(await res.text()).toContain('That code is not valid')
    }
    for (const offset of [-1, 0, 1]) {
      t.clock.advance(120_000) // a later step each time, so no code is a reuse
      const f = await codeForm()
      const res = await submitCode(t, f.jar, f.html, codeAt(t, e.secret, offset))
      expect(res.status, `offset ${offset}`).toBe(303)
      codeFrom(res)
    }
  })

  it('MFA-01 the step boundary: at the last millisecond of step s the code of s+2 is refused; one millisecond later (step s+1) it passes', async () => {
    const e = await enrolled()
    const stepMs = 30_000
    t.clock.set(Math.floor(t.clock.now() / stepMs) * stepMs + stepMs - 1) // last ms of step s
    const code = codeAt(t, e.secret, 2)
    const f1 = await codeForm()
    expect((await submitCode(t, f1.jar, f1.html, code)).status).toBe(400)
    t.clock.advance(1) // first ms of step s+1: s+2 is now t+1
    expect(codeAt(t, e.secret, 1)).toBe(code)
    const f2 = await codeForm()
    expect((await submitCode(t, f2.jar, f2.html, code)).status).toBe(303)
  })

  it('MFA-01 a code is not accepted twice, nor an earlier step once a later one was used', async () => {
    const e = await enrolled()
    const code = codeAt(t, e.secret)
    const f1 = await codeForm()
    expect((await submitCode(t, f1.jar, f1.html, code)).status).toBe(303)
    const f2 = await codeForm()
    const again = await submitCode(t, f2.jar, f2.html, code)
    expect(again.status).toBe(400)
    // The next step's code works; then the previous step's, still inside the window, does not.
    const f3 = await codeForm()
    expect((await submitCode(t, f3.jar, f3.html, codeAt(t, e.secret, 1))).status).toBe(303)
    const f4 = await codeForm()
    expect((await submitCode(t, f4.jar, f4.html, codeAt(t, e.secret, 0))).status).toBe(400)
    const failures = await t.store.listEvents({ type: 'mfa_failure', limit: 10 })
    expect(failures.map((x) => x.data.reason).sort()).toEqual(['reused_code', 'reused_code'])
  })

  it('MFA-01 brute force: past 10 wrong codes in 15 minutes the account refuses every code, even the right one (429), until the window ends', async () => {
    const e = await enrolled()
    t.clock.set(Math.floor(t.clock.now() / 900_000) * 900_000 + 1000) // start of a window
    const f = await codeForm()
    let html = f.html
    for (let i = 0; i < 10; i++) {
      const res = await submitCode(
        t,
        f.jar,
        html,
        '000000' === codeAt(t, e.secret) ? '111111' : '000000',
      )
      expect(res.status).toBe(400)
      html = await res.text()
    }
    const refused = await submitCode(t, f.jar, html, codeAt(t, e.secret))
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('899')
    expect(await refused.text()).toContain('Too many wrong codes')
    // Another browser, another address would not help either: the counter is the account's.
    const other = await codeForm()
    expect((await submitCode(t, other.jar, other.html, codeAt(t, e.secret))).status).toBe(429)
    const throttled = await t.store.listEvents({ type: 'mfa_failure', limit: 50 })
    expect(throttled.filter((x) => x.data.reason === 'throttled')).toHaveLength(2)
    t.clock.advance(900_000)
    const later = await codeForm()
    expect((await submitCode(t, later.jar, later.html, codeAt(t, e.secret))).status).toBe(303)
  })

  it('MFA-01 the ID token of a two-step sign-in has amr pwd otp mfa, acr urn:tessera:acr:mfa and auth_time', async () => {
    const e = await enrolled()
    const f = await codeForm()
    const res = await submitCode(t, f.jar, f.html, codeAt(t, e.secret))
    const tokens = await redeem(t, f.flow, codeFrom(res))
    expect(tokens.status).toBe(200)
    const id = claims(tokens.body.id_token)
    expect(id.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(id.acr).toBe('urn:tessera:acr:mfa')
    expect(id.auth_time).toBe(Math.floor(t.clock.now() / 1000))
    expect(id.tessera_task).toBeUndefined()
    const at = claims(tokens.body.access_token)
    expect({ amr: at.amr, acr: at.acr }).toEqual({
      amr: ['pwd', 'otp', 'mfa'],
      acr: 'urn:tessera:acr:mfa',
    })
  })

  it('a password-only sign-in has amr pwd and acr urn:tessera:acr:pwd', async () => {
    const flow = await passwordStep(t)
    const tokens = await redeem(t, flow, codeFrom(flow.res))
    const id = claims(tokens.body.id_token)
    expect({ amr: id.amr, acr: id.acr }).toEqual({ amr: ['pwd'], acr: 'urn:tessera:acr:pwd' })
  })
})

describe('MFA-11 recovery codes', () => {
  it('MFA-11 ten codes, shown once, stored only as keyed hashes; each works once', async () => {
    const e = await enrolled()
    expect(e.recoveryCodes).toHaveLength(10)
    expect(new Set(e.recoveryCodes).size).toBe(10)
    const d = db()
    const rows = d.prepare('select * from recovery_codes').all() as { code_hash: string }[]
    d.close()
    expect(rows).toHaveLength(10)
    const dump = JSON.stringify(rows)
    for (const c of e.recoveryCodes) {
      expect(dump).not.toContain(c)
      expect(dump).not.toContain(c.replace('-', ''))
    }
    // The page shows them no more.
    const again = await browserFetch(e.jar, `${t.url}/account/mfa`)
    const html = await again.text()
    expect(html).toContain('You have 10 unused recovery codes')
    expect(html).not.toContain(e.recoveryCodes[0] ?? 'x')

    const code = e.recoveryCodes[3] ?? ''
    const f1 = await codeForm()
    // Typed in upper case with a space instead of the dash: still the code.
    const ok = await submitCode(t, f1.jar, f1.html, code.toUpperCase().replace('-', ' '))
    expect(ok.status).toBe(303)
    const tokens = await redeem(t, f1.flow, codeFrom(ok))
    expect(claims(tokens.body.id_token).amr).toEqual(['pwd', 'otp', 'mfa'])
    const f2 = await codeForm()
    const reused = await submitCode(t, f2.jar, f2.html, code)
    expect(reused.status).toBe(400)
    expect(await t.store.countRecoveryCodes((await t.store.getUserByUsername('alice'))!.id)).toBe(9)
  })
})

describe('MFA-12 TOTP secrets at rest', () => {
  it('MFA-12 the secret is stored encrypted (AES-256-GCM under the server secret), bound to its user', async () => {
    const e = await enrolled()
    const d = db()
    const row = d.prepare('select * from totp_credentials').get() as Record<string, unknown>
    d.close()
    const stored = String(row.secret_enc)
    expect(stored).not.toContain(e.secret.toString('base64url'))
    expect(Buffer.from(stored, 'base64url').includes(e.secret)).toBe(false)
    // Moved to another user's row, it does not decrypt: the code step fails closed.
    const bob = await t.createUser('bob')
    const { decryptTotpSecret } = await import('../../src/mfa/second-factor.js')
    expect(() => decryptTotpSecret(t.server.ctx, bob.id, stored)).toThrow()
    expect(decryptTotpSecret(t.server.ctx, String(row.user_id), stored).equals(e.secret)).toBe(true)
  })
})
