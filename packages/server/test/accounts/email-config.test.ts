import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { cleanEnv, runInProcess, tempDir } from '../cli/cli-process.js'
import { TestSmtp } from '../helpers/smtp.js'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  openLogin,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import { defaultClients, startTestServer } from '../helpers/test-server.js'

const SECRET = 'email-config-secret-email-config-secret-0123456789'
const SMTP_PASSWORD = 'smtp-password-that-must-never-be-printed'

const tmp = tempDir()
afterAll(() => tmp.remove())

function file(name: string, email: unknown): string {
  const path = join(tmp.dir, name)
  writeFileSync(path, JSON.stringify({ email }))
  return path
}

describe('tessera start: email settings', () => {
  const cases: [string, unknown, string][] = [
    [
      'a port out of range',
      { smtp: { host: 'smtp.example.test', port: 70000 }, from: 'a@example.test' },
      'email.smtp.port',
    ],
    ['no from', { smtp: { host: 'smtp.example.test', user: 'u' } }, 'email.from'],
    [
      'a from with a line break',
      {
        smtp: { host: 'smtp.example.test', user: 'u' },
        from: 'a@example.test\nBcc: b@example.test',
      },
      'email.from',
    ],
    [
      'an unknown setting',
      { smtp: { host: 'smtp.example.test', tls: true }, from: 'a@example.test' },
      'email.smtp.tls',
    ],
    [
      'a user without a password',
      { smtp: { host: 'smtp.example.test', user: 'u' }, from: 'a@example.test' },
      'email.smtp.pass',
    ],
  ]
  for (const [name, email, setting] of cases) {
    it(`${name} stops start-up with exit 78 naming ${setting}, never printing the password`, async () => {
      const env: Record<string, string> = {
        TESSERA_ISSUER: 'http://127.0.0.1:4000',
        TESSERA_SECRET: SECRET,
        TESSERA_SQLITE_FILE: join(tmp.dir, 'start.db'),
      }
      // The password comes from the environment except in the case about it missing.
      if (setting !== 'email.smtp.pass') env.TESSERA_SMTP_PASSWORD = SMTP_PASSWORD
      const r = await runInProcess(['start', '--config', file(`${setting}.json`, email)], {
        cwd: tmp.dir,
        env: cleanEnv(env),
      })
      expect(r.code).toBe(78)
      const lines = r.stderr.trimEnd().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(`invalid configuration: ${setting}: `)
      expect(r.stdout + r.stderr).not.toContain(SMTP_PASSWORD)
    })
  }

  it('a template override with an unknown placeholder stops start-up with exit 78', async () => {
    const dir = join(tmp.dir, 'templates')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'verify-email.txt'), 'Subject: Hi {{who}}\n\nbody\n')
    const r = await runInProcess(
      ['start', '--config', file('templates.json', { templatesDir: 'templates' })],
      {
        cwd: tmp.dir,
        env: cleanEnv({
          TESSERA_ISSUER: 'http://127.0.0.1:4000',
          TESSERA_SECRET: SECRET,
          TESSERA_SQLITE_FILE: join(tmp.dir, 'start.db'),
        }),
      },
    )
    expect(r.code).toBe(78)
    expect(r.stderr).toContain('email.templatesDir: verify-email: unknown placeholder {{who}}')
  })
})

describe('SMTP failures', () => {
  it('a relay that refuses the login: the mail is dropped with one warning that names no secret', async () => {
    const smtp = await new TestSmtp({ user: 'mailer', pass: 'the-right-password' }).start()
    const lines: string[] = []
    const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(s) })
    const t = await startTestServer({
      logger,
      config: {
        email: {
          smtp: {
            host: '127.0.0.1',
            port: smtp.port,
            requireTls: false,
            user: 'mailer',
            pass: SMTP_PASSWORD,
          },
          from: 'auth@example.test',
        },
      },
    })
    try {
      const user = await t.createUser('bob')
      t.server.ctx.accounts.queueReset(t.server.ctx, user)
      await t.server.ctx.mailer.idle()
      expect(smtp.logins).toEqual(['mailer'])
      expect(smtp.messages).toEqual([])
      const warnings = lines.filter((l) => l.includes('mail not sent'))
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain('EAUTH')
      expect(lines.join('\n')).not.toContain(SMTP_PASSWORD)
      expect(lines.join('\n')).not.toContain('bob@example.test')
    } finally {
      await t.close()
      await smtp.close()
    }
  })
})

describe('CAPTCHA hook', () => {
  it('is asked first on sign-up and reset requests; a failed check creates nothing and sends nothing', async () => {
    const smtp = await new TestSmtp().start()
    const asked: string[] = []
    const t = await startTestServer({
      clients: defaultClients.map((c) => (c.id === 'web-app' ? { ...c, signUp: true } : c)),
      hooks: {
        captcha: {
          fields: (action) =>
            `<label for="q">What is 3 + 4? (${action})</label><input id="q" name="q">`,
          verify: ({ action, form }) => {
            asked.push(action)
            return Promise.resolve(form.q === '7')
          },
        },
      },
      config: {
        email: {
          smtp: { host: '127.0.0.1', port: smtp.port, requireTls: false },
          from: 'a@example.test',
        },
      },
    })
    try {
      await t.createUser('carol')
      // Reset: the form carries the operator's field; a wrong answer is refused and sends nothing.
      const jar = new CookieJar()
      const forgot = await (await browserFetch(jar, t.url + ACCOUNT_PATHS.forgotPassword)).text()
      expect(forgot).toContain('What is 3 + 4? (password_reset)')
      const fields = formFields(forgot)
      const wrong = await browserFetch(jar, t.url + ACCOUNT_PATHS.forgotPassword, {
        form: { ...fields, email: 'carol@example.test', q: '8' },
      })
      expect(wrong.status).toBe(400)
      expect(await wrong.text()).toContain('Please complete the check.')
      const right = await browserFetch(jar, t.url + ACCOUNT_PATHS.forgotPassword, {
        form: { ...fields, email: 'carol@example.test', q: '7' },
      })
      expect(right.status).toBe(200)
      await smtp.next((m) => m.subject === 'Reset your password')
      expect(smtp.messages).toHaveLength(1)

      // Sign-up: a wrong answer creates no user.
      const a = authorizationParams({})
      const login = await openLogin(t, await startAuthorize(t, a.params, jar), jar)
      const link = (/href="([^"]*\/signup\?tx=[^"]*)"/.exec(login.html)?.[1] as string).replace(
        /&amp;/g,
        '&',
      )
      const page = await (await browserFetch(jar, link)).text()
      expect(page).toContain('What is 3 + 4? (sign_up)')
      const refused = await browserFetch(jar, t.url + ACCOUNT_PATHS.signUp, {
        form: {
          ...formFields(page),
          email: 'dave@example.test',
          password: 'a good long passphrase',
          q: 'x',
        },
      })
      expect(refused.status).toBe(400)
      expect(await t.store.getUsersByEmail('dave@example.test')).toEqual([])
      const created = await browserFetch(jar, t.url + ACCOUNT_PATHS.signUp, {
        form: {
          ...formFields(page),
          email: 'dave@example.test',
          password: 'a good long passphrase',
          q: '7',
        },
      })
      expect(created.status).toBe(303)
      expect(await t.store.getUsersByEmail('dave@example.test')).toHaveLength(1)
      expect(asked).toEqual(['password_reset', 'password_reset', 'sign_up', 'sign_up'])
    } finally {
      await t.close()
      await smtp.close()
    }
  })
})
