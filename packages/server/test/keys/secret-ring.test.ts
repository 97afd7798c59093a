import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { loadConfig } from '../../src/config/load.js'
import { resolveConfig, type ConfigInput } from '../../src/config/resolve.js'
import { FakeClock, MonotonicClock } from '../../src/lib/clock.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import { cryptoRandom } from '../../src/lib/random.js'
import type { ServerContext } from '../../src/context.js'
import { emailTokenHash, issueEmailToken } from '../../src/email/email-links.js'
import { LoginTransactionCodec } from '../../src/login/login-transaction.js'
import {
  decryptTotpSecret,
  encryptTotpSecret,
  recoveryCodeHash,
  recoveryCodeHashes,
} from '../../src/mfa/second-factor.js'
import { DpopNonces } from '../../src/oauth/dpop/dpop-nonces.js'
import { WebAuthnChallengeCodec } from '../../src/passkeys/webauthn-challenge.js'
import { RefreshTokenCodec } from '../../src/tokens/refresh-token.js'
import { KeyManager, UndecryptableKeysError } from '../../src/tokens/signing-keys.js'
import { ADMIN_KEY, startAdminServer } from '../admin/admin-helpers.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  openLogin,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { createTestSchema } from '../helpers/postgres.js'
import { TEST_SECRET, startTestServer, type TestServer } from '../helpers/test-server.js'

/**
 * The secret key ring (`secrets: [new, old, ...]`): the first secret makes every new value, each
 * one is accepted, for every use the server derives from the secret. Each row below makes a value
 * under OLD, and checks that [NEW, OLD] accepts it, [NEW] alone refuses it, and that [NEW, OLD]
 * makes new values under NEW.
 */

const OLD = TEST_SECRET
const NEW = 'the-new-secret-the-new-secret-the-new-secret-0123'
const b = (s: string) => Buffer.from(s)
const ring = (...s: string[]) => s.map(b)

describe('config: secret, secrets, TESSERA_SECRET, TESSERA_SECRETS', () => {
  const base = { issuer: 'https://auth.example.test' }
  const bad: [string, ConfigInput, string, string][] = [
    ['neither', {}, 'secret', 'is required (TESSERA_SECRET, or TESSERA_SECRETS)'],
    [
      'both',
      { secret: OLD, secrets: [NEW] },
      'secrets',
      'and secret are both set; list every secret in secrets',
    ],
    ['an empty list', { secrets: [] }, 'secrets', 'must be a list of 1 to 4 secrets, newest first'],
    [
      'five',
      { secrets: ['a', 'b', 'c', 'd', 'e'].map((c) => c.repeat(32)) },
      'secrets',
      'must be a list of 1 to 4 secrets, newest first',
    ],
    ['a short one', { secrets: [NEW, 'short'] }, 'secrets[1]', 'must be at least 32 bytes'],
    ['a number', { secrets: [NEW, 42 as unknown as string] }, 'secrets[1]', 'must be a string'],
    ['one listed twice', { secrets: [NEW, OLD, NEW] }, 'secrets[2]', 'is listed twice'],
    ['a short secret', { secret: 'short' }, 'secret', 'must be at least 32 bytes'],
  ]
  for (const [name, input, setting, reason] of bad) {
    it(`${name}: ConfigError on ${setting}, no secret in the message`, () => {
      let err: unknown
      try {
        resolveConfig({ ...base, ...input })
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).setting).toBe(setting)
      expect((err as ConfigError).message).toBe(`invalid configuration: ${setting}: ${reason}`)
      expect((err as ConfigError).message).not.toContain(NEW)
      expect((err as ConfigError).message).not.toContain(OLD)
    })
  }

  it('secret and secrets both resolve to the ring, first first', () => {
    expect(resolveConfig({ ...base, secret: OLD }).secrets).toEqual([b(OLD)])
    expect(resolveConfig({ ...base, secrets: [NEW, OLD] }).secrets).toEqual(ring(NEW, OLD))
  })

  it('TESSERA_SECRETS is comma-separated, newest first, and replaces the file; errors name it', () => {
    const env = { TESSERA_ISSUER: base.issuer, TESSERA_SQLITE_FILE: ':memory:' }
    const c = loadConfig({ env: { ...env, TESSERA_SECRETS: `${NEW}, ${OLD}` }, cwd: tmpdir() })
    expect(c.secrets).toEqual(ring(NEW, OLD))
    expect(loadConfig({ env: { ...env, TESSERA_SECRET: OLD }, cwd: tmpdir() }).secrets).toEqual([
      b(OLD),
    ])
    const fails = (extra: Record<string, string>) => {
      try {
        loadConfig({ env: { ...env, ...extra }, cwd: tmpdir() })
      } catch (e) {
        return (e as Error).message
      }
      return 'no error'
    }
    expect(fails({ TESSERA_SECRETS: `${NEW},short` })).toBe(
      'invalid configuration: TESSERA_SECRETS: secrets[1] must be at least 32 bytes',
    )
    expect(fails({ TESSERA_SECRETS: `${NEW},` })).toBe(
      'invalid configuration: TESSERA_SECRETS: secrets[1] must be at least 32 bytes',
    )
    expect(fails({ TESSERA_SECRETS: NEW, TESSERA_SECRET: OLD })).toBe(
      'invalid configuration: TESSERA_SECRET: and TESSERA_SECRETS are both set; set one of them',
    )
  })
})

describe('every value derived from the secret: made under OLD, accepted by [NEW, OLD]', () => {
  const salt = 'salt-salt-salt'
  const sid = 'A'.repeat(22)
  const clock = new FakeClock()
  const rows: {
    name: string
    make: (secrets: Buffer[]) => string
    accepts: (secrets: Buffer[], value: string) => boolean
  }[] = [
    {
      name: 'refresh-token MAC',
      make: (s) => new RefreshTokenCodec(s).encode(sid, 3, salt),
      accepts: (s, v) => {
        const codec = new RefreshTokenCodec(s)
        const parsed = codec.parse(v)
        return parsed !== undefined && codec.verify(parsed, salt)
      },
    },
    {
      name: 'login transaction',
      make: (s) => new LoginTransactionCodec(s).seal(new Map(), clock.now(), cryptoRandom),
      accepts: (s, v) => new LoginTransactionCodec(s).open(v, clock.now()) !== undefined,
    },
    {
      name: 'DPoP nonce',
      make: (s) => new DpopNonces(s, clock).current(),
      accepts: (s, v) => new DpopNonces(s, clock).isValid(v),
    },
    {
      name: 'WebAuthn challenge (passkey ceremonies)',
      make: (s) =>
        new WebAuthnChallengeCodec(s).issue('authenticate', 'tx-1', null, clock.now(), cryptoRandom)
          .sealed,
      accepts: (s, v) =>
        new WebAuthnChallengeCodec(s).open(v, 'authenticate', 'tx-1', clock.now()) !== undefined,
    },
    {
      name: 'TOTP secret at rest',
      make: (s) => encryptTotpSecret(secretsOnly(s), 'user-1', TOTP_SEED),
      accepts: (s, v) => {
        try {
          return decryptTotpSecret(secretsOnly(s), 'user-1', v).equals(TOTP_SEED)
        } catch {
          return false
        }
      },
    },
    {
      name: 'recovery code hash',
      make: (s) => recoveryCodeHash(secretsOnly(s), 'user-1', 'abcde23456'),
      accepts: (s, v) => recoveryCodeHashes(secretsOnly(s), 'user-1', 'abcde23456').includes(v),
    },
  ]
  for (const r of rows) {
    it(`${r.name}`, () => {
      const old = r.make(ring(OLD))
      expect(r.accepts(ring(NEW, OLD), old)).toBe(true)
      expect(r.accepts(ring(NEW), old)).toBe(false)
      // New values are made under NEW: a server still on OLD alone refuses them.
      const made = r.make(ring(NEW, OLD))
      expect(r.accepts(ring(NEW), made)).toBe(true)
      expect(r.accepts(ring(OLD), made)).toBe(false)
      // A secret nobody listed opens nothing.
      expect(r.accepts(ring('x'.repeat(40)), old)).toBe(false)
    })
  }

  it('email link (verification, password reset)', async () => {
    const issued = await issueEmailToken(
      secretsOnly(ring(OLD)),
      'reset_password',
      'user-1',
      'a@b.test',
    )
    const hash = emailTokenHash(secretsOnly(ring(OLD)), 'reset_password', issued)
    expect(hash).toBeDefined()
    expect(emailTokenHash(secretsOnly(ring(NEW, OLD)), 'reset_password', issued)).toBe(hash)
    expect(emailTokenHash(secretsOnly(ring(NEW)), 'reset_password', issued)).toBeUndefined()
    const made = await issueEmailToken(
      secretsOnly(ring(NEW, OLD)),
      'reset_password',
      'u',
      'a@b.test',
    )
    expect(emailTokenHash(secretsOnly(ring(NEW)), 'reset_password', made)).toBeDefined()
    expect(emailTokenHash(secretsOnly(ring(OLD)), 'reset_password', made)).toBeUndefined()
  })
})

const TOTP_SEED = Buffer.from('12345678901234567890')

/** The part of a server context the MFA and email-link helpers read: the ring, randomness, a
 * clock, the link lifetimes, and a store that takes the link record (nothing else is read). */
function secretsOnly(secrets: Buffer[]): ServerContext {
  return {
    config: { secrets, accounts: { verifyLinkTtlSeconds: 3600, resetLinkTtlSeconds: 1800 } },
    random: cryptoRandom,
    clock: new FakeClock(),
    store: { createEmailToken: () => Promise.resolve() },
  } as unknown as ServerContext
}

describe('forms rendered before a restart with [NEW, OLD] still post (CSRF, login transaction, console)', () => {
  // One database per scenario: a start with [NEW, OLD] re-encrypts the keys, after which OLD
  // alone no longer starts on it.
  const dirs: string[] = []
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })
  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'tessera-ring-'))
    dirs.push(d)
    return d
  }
  const start = (dir: string, secrets: string[]) =>
    startAdminServer({ dir, config: { secret: undefined, secrets } })

  interface OpenForm {
    dir: string
    jar: CookieJar
    fields: Record<string, string>
  }

  /** Opens the sign-in form under OLD; the server is closed after. */
  async function formUnderOld(): Promise<OpenForm> {
    const dir = freshDir()
    const t = await start(dir, [OLD])
    try {
      await t.createUser('alice')
      const jar = new CookieJar()
      const res = await startAuthorize(t, authorizationParams().params, jar)
      return { dir, jar, fields: (await openLogin(t, res, jar)).fields }
    } finally {
      await t.server.close()
    }
  }

  async function post(secrets: string[], form: OpenForm) {
    const t = await start(form.dir, secrets)
    try {
      return await browserFetch(form.jar, t.url + '/login', {
        form: { ...form.fields, username: 'alice', password: 'correct horse battery' },
      })
    } finally {
      await t.server.close()
    }
  }

  it('the hosted sign-in form: [NEW, OLD] signs the user in; [NEW] alone refuses the form', async () => {
    const accepted = await post([NEW, OLD], await formUnderOld())
    expect(accepted.status).toBe(303)
    expect(new URL(accepted.headers.get('location')!).searchParams.get('code')).toBeTruthy()
    // Once OLD is dropped (after a start with [NEW, OLD] re-encrypted the keys), the form is not.
    const form = await formUnderOld()
    await (await start(form.dir, [NEW, OLD])).server.close()
    const refused = await post([NEW], form)
    expect(refused.status).toBeGreaterThanOrEqual(400)
    expect(refused.status).toBeLessThan(500)
  })

  it('the admin console: a page rendered under OLD posts under [NEW, OLD]', async () => {
    const dir = freshDir()
    let t = await start(dir, [OLD])
    const jar = new CookieJar()
    let csrf: string
    try {
      const page = await browserFetch(jar, t.url + '/admin/sign-in')
      const fields = formFields(await page.text())
      expect(
        (await browserFetch(jar, t.url + '/admin/sign-in', { form: { ...fields, key: ADMIN_KEY } }))
          .status,
      ).toBe(303)
      csrf = formFields(await (await browserFetch(jar, t.url + '/admin/users')).text()).csrf!
    } finally {
      await t.server.close()
    }
    t = await start(dir, [NEW, OLD])
    try {
      const r = await browserFetch(jar, t.url + '/admin/sign-out', { form: { csrf } })
      expect(r.status).toBe(303)
      const id = sha256b64u(jar.get('tessera_admin') ?? 'gone')
      expect(await t.store.getAdminSession(id)).toBeUndefined()
    } finally {
      await t.server.close()
    }
  })
})

describe('a wrong or missing secret fails clearly', () => {
  let t: TestServer
  const lines: { level: number; msg: string; kid?: string }[] = []
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
          lines.push(JSON.parse(l) as { level: number; msg: string })
        }
        done()
      },
    })
    t = await startTestServer({ logger: pino({ level: 'info' }, sink) })
  })
  afterAll(() => t.close())

  it('a store whose keys no configured secret opens: init throws UndecryptableKeysError (start exits 78)', async () => {
    const other = new KeyManager(t.store, new MonotonicClock(), cryptoRandom, ring(NEW), {
      alg: 'ES256',
      jwksMaxAgeSeconds: 300,
      maxTokenLifetimeSeconds: 3600,
    })
    const err = await other.init().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UndecryptableKeysError)
    expect((err as UndecryptableKeysError).kids).toHaveLength(1)
    expect((err as Error).message).not.toContain(NEW)
  })

  it('a running server meeting a key stored under a secret it lacks keeps serving and logs it once', async () => {
    const user = await t.createUser()
    const tokens = await signInTokens(t, user)
    // Another instance, wrongly configured with NEW alone, rotates: its key opens only with NEW.
    const other = new KeyManager(t.store, t.clock, cryptoRandom, ring(NEW), {
      alg: 'ES256',
      jwksMaxAgeSeconds: 0,
      maxTokenLifetimeSeconds: 3600,
    })
    const rec = await other.rotate()
    t.clock.advance(31_000)
    for (let i = 0; i < 3; i++) {
      const jwks = await fetch(t.url + '/.well-known/jwks.json')
      expect(jwks.status).toBe(200)
      await t.server.ctx.keys.reload()
    }
    const r = await postForm(t.url + '/oauth/token', {
      grant_type: 'refresh_token',
      refresh_token: tokens.body.refresh_token as string,
      client_id: 'web-app',
    })
    expect(r.status).toBe(200)
    const logged = lines.filter((l) => l.kid === rec.kid)
    expect(logged).toHaveLength(1)
    expect(logged[0]!.level).toBe(50)
    expect(JSON.stringify(lines)).not.toContain(NEW)
  })
})

describe('PostgreSQL: instances starting together with [NEW, OLD] re-encrypt each key once', () => {
  it('five key managers on five pools re-encrypt at once; NEW alone then opens every key', async () => {
    const schema = await createTestSchema()
    const first = schema.store()
    const stores = [first]
    try {
      await first.migrate()
      const opts = { alg: 'ES256' as const, jwksMaxAgeSeconds: 300, maxTokenLifetimeSeconds: 3600 }
      const seed = new KeyManager(first, new MonotonicClock(), cryptoRandom, ring(OLD), opts)
      await seed.init()
      await seed.rotate()
      const before = await first.listSigningKeys()
      expect(before).toHaveLength(2)
      for (let i = 0; i < 4; i++) stores.push(schema.store({ poolSize: 2 }))
      const managers = stores.map(
        (s) => new KeyManager(s, new MonotonicClock(), cryptoRandom, ring(NEW, OLD), opts),
      )
      await Promise.all(managers.map((m) => m.init()))
      for (const m of managers) expect(m.keysUnderOlderSecret).toBe(0)
      const after = await first.listSigningKeys()
      expect(after.map((k) => k.kid)).toEqual(before.map((k) => k.kid))
      for (const [i, k] of after.entries())
        expect(k.privateJwkEnc).not.toBe(before[i]!.privateJwkEnc)
      const onlyNew = new KeyManager(first, new MonotonicClock(), cryptoRandom, ring(NEW), opts)
      await onlyNew.init()
      expect(onlyNew.publicJwks().keys.map((k) => k.kid)).toEqual(after.map((k) => k.kid))
      // Every manager holds the same keys (the same public halves).
      for (const m of managers) {
        expect(m.publicJwks()).toEqual(onlyNew.publicJwks())
      }
    } finally {
      for (const s of stores) await s.close()
      await schema.drop()
    }
  })
})
