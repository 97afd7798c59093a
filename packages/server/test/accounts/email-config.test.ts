import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { pino } from 'pino'
import { cleanEnv, runInProcess, tempDir } from '../cli/cli-process.js'
import { TestSmtp } from '../helpers/smtp.js'
import { startTestServer } from '../helpers/test-server.js'

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
