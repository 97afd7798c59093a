import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { resolveUpstream } from '../../src/config/resolve-upstream.js'
import { createLogger } from '../../src/server.js'
import { cleanEnv, runInProcess, tempDir } from '../cli/cli-process.js'

vi.setConfig({ testTimeout: 60_000 })

const SECRET = 'upstream-config-secret-0123456789-abcdefghij'
const CLIENT_SECRET = 'upstream-client-secret-never-shown-0123'

const good = {
  id: 'acme',
  name: 'Acme ID',
  issuer: 'https://id.acme.example',
  clientId: 'tessera',
  clientSecret: CLIENT_SECRET,
}

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir()
})
afterAll(() => tmp.remove())

describe('UP-08 upstream providers are validated at start-up', () => {
  it('a valid provider gets the default scopes', () => {
    expect(resolveUpstream([good])).toEqual([{ ...good, scopes: ['openid', 'email', 'profile'] }])
    expect(resolveUpstream(undefined)).toEqual([])
  })

  const cases: [string, unknown, string][] = [
    ['not a list', { acme: good }, 'upstream'],
    ['an id with capitals', [{ ...good, id: 'Acme' }], 'upstream[0].id'],
    ['the same id twice', [good, good], 'upstream[1].id'],
    ['no name', [{ ...good, name: '' }], 'upstream[0].name'],
    [
      'an http issuer off loopback',
      [{ ...good, issuer: 'http://id.acme.example' }],
      'upstream[0].issuer',
    ],
    [
      'an issuer with a query',
      [{ ...good, issuer: 'https://id.acme.example/?x=1' }],
      'upstream[0].issuer',
    ],
    ['an issuer that is not a URL', [{ ...good, issuer: 'acme' }], 'upstream[0].issuer'],
    ['no client id', [{ ...good, clientId: undefined }], 'upstream[0].clientId'],
    ['an empty client secret', [{ ...good, clientSecret: '' }], 'upstream[0].clientSecret'],
    [
      'a client secret that is not a string',
      [{ ...good, clientSecret: 42 }],
      'upstream[0].clientSecret',
    ],
    ['scopes without openid', [{ ...good, scopes: ['email'] }], 'upstream[0].scopes'],
    ['a scope with a space', [{ ...good, scopes: ['openid', 'a b'] }], 'upstream[0].scopes'],
    ['a misspelt setting', [{ ...good, clientSecert: 'x' }], 'upstream[0].clientSecert'],
  ]
  for (const [name, input, setting] of cases) {
    it(`${name}: ConfigError naming ${setting}, without the secret`, () => {
      let err: unknown
      try {
        resolveUpstream(input)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).setting).toBe(setting)
      expect((err as ConfigError).message).not.toContain(CLIENT_SECRET)
    })
  }

  it('tessera start exits 78 with one line naming the setting, never the client secret', async () => {
    const file = join(tmp.dir, 'tessera.json')
    writeFileSync(
      file,
      JSON.stringify({ upstream: [{ ...good, issuer: 'http://id.acme.example' }] }),
    )
    const r = await runInProcess(['start', '--config', file], {
      cwd: tmp.dir,
      env: cleanEnv({
        TESSERA_ISSUER: 'http://127.0.0.1:4000',
        TESSERA_SECRET: SECRET,
        TESSERA_SQLITE_FILE: join(tmp.dir, 'start.db'),
      }),
    })
    expect(r.code).toBe(78)
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^tessera: invalid configuration: upstream\[0\]\.issuer: \S/),
    ])
    expect(r.stderr + r.stdout).not.toContain(CLIENT_SECRET)
  })

  it('the logger redacts a provider passed whole', () => {
    const lines: string[] = []
    const log = createLogger('info', { write: (s: string) => lines.push(s) })
    log.info({ provider: resolveUpstream([good])[0] }, 'provider')
    expect(lines.join('')).toContain('acme')
    expect(lines.join('')).not.toContain(CLIENT_SECRET)
  })
})
