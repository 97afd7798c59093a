import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { loadConfig, loadConfigInput } from '../../src/config/load.js'
import { tempDir } from './cli-process.js'

const SECRET = 'load-test-secret-load-test-secret-0123456789'
let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir()
  mkdirSync(join(tmp.dir, 'etc'))
  writeFileSync(
    join(tmp.dir, 'etc', 'tessera.json'),
    JSON.stringify({
      issuer: 'https://auth.example.test',
      secret: SECRET,
      port: 5000,
      logLevel: 'warn',
      database: { driver: 'sqlite', file: 'db/tessera.db' },
      apis: [{ audience: 'https://api.example.test', scopes: ['read'] }],
      clients: [{ id: 'web', redirectUris: ['https://app.example.test/cb'] }],
    }),
  )
})
afterAll(() => tmp.remove())

function configError(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigError) return err
    throw err
  }
  throw new Error('no ConfigError')
}

describe('loadConfig', () => {
  it('reads the file and resolves its relative SQLite path against the file directory', () => {
    const c = loadConfig({ file: 'etc/tessera.json', cwd: tmp.dir, env: {} })
    expect(c.issuer).toBe('https://auth.example.test')
    expect(c.port).toBe(5000)
    expect(c.logLevel).toBe('warn')
    expect(c.database).toEqual({ driver: 'sqlite', file: join(tmp.dir, 'etc', 'db', 'tessera.db') })
    expect(c.clients.map((x) => x.id)).toEqual(['web'])
    expect(c.dev).toBe(false)
  })

  it('the environment overrides the file, setting by setting', () => {
    const c = loadConfig({
      file: 'etc/tessera.json',
      cwd: tmp.dir,
      env: {
        TESSERA_ISSUER: 'https://login.example.test/',
        TESSERA_SECRET: 'x'.repeat(40),
        TESSERA_PORT: '8080',
        TESSERA_HOST: '0.0.0.0',
        TESSERA_SQLITE_FILE: 'other.db',
        TESSERA_LOG_LEVEL: 'debug',
        TESSERA_TRUST_PROXY: ' 10.0.0.1 , ::1,',
        TESSERA_SIGNING_ALG: 'EdDSA',
      },
    })
    expect(c).toMatchObject({
      issuer: 'https://login.example.test',
      port: 8080,
      host: '0.0.0.0',
      database: { driver: 'sqlite', file: join(tmp.dir, 'other.db') },
      logLevel: 'debug',
      trustProxy: ['10.0.0.1', '::1'],
      signingAlg: 'EdDSA',
    })
    expect(c.secrets.map(String)).toEqual(['x'.repeat(40)])
  })

  it('DATABASE_URL selects PostgreSQL', () => {
    const c = loadConfig({
      file: 'etc/tessera.json',
      cwd: tmp.dir,
      env: { DATABASE_URL: 'postgres://tessera@127.0.0.1/tessera' },
    })
    expect(c.database).toEqual({ driver: 'postgres', url: 'postgres://tessera@127.0.0.1/tessera' })
  })

  it('./tessera.json is read when no file is named; without one the environment alone counts', () => {
    const fromCwd = loadConfig({ cwd: join(tmp.dir, 'etc'), env: {} })
    expect(fromCwd.issuer).toBe('https://auth.example.test')
    const envOnly = loadConfig({
      cwd: tmp.dir,
      env: { TESSERA_ISSUER: 'https://a.example.test', TESSERA_SECRET: SECRET },
    })
    expect(envOnly.database).toEqual({
      driver: 'sqlite',
      file: join(tmp.dir, '.tessera', 'tessera.db'),
    })
    expect(loadConfigInput({ cwd: tmp.dir, env: {} }).file).toBeUndefined()
  })

  it('PORT (what hosting platforms set) sets the port when TESSERA_PORT does not', () => {
    const file = 'etc/tessera.json' // port 5000
    expect(loadConfig({ file, cwd: tmp.dir, env: { PORT: '10000' } }).port).toBe(10000)
    expect(
      loadConfig({ file, cwd: tmp.dir, env: { PORT: '10000', TESSERA_PORT: '8080' } }).port,
    ).toBe(8080)
    expect(loadConfig({ file, cwd: tmp.dir, env: { PORT: '' } }).port).toBe(5000)
    const bad = configError(() => loadConfig({ file, cwd: tmp.dir, env: { PORT: '80a' } }))
    expect(bad.setting).toBe('PORT')
    expect(bad.message).toBe('invalid configuration: PORT: must be a port number')
  })

  it('an error from an environment value names the variable, one from the file the setting', () => {
    expect(
      configError(() =>
        loadConfig({ file: 'etc/tessera.json', cwd: tmp.dir, env: { TESSERA_PORT: '99999' } }),
      ).setting,
    ).toBe('TESSERA_PORT')
    const e = configError(() =>
      loadConfig({ cwd: tmp.dir, env: { TESSERA_ISSUER: 'https://a.example.test' } }),
    )
    expect(e.setting).toBe('secret')
    expect(e.message).toBe(
      'invalid configuration: secret: is required (TESSERA_SECRET, or TESSERA_SECRETS)',
    )
    const proxy = configError(() =>
      loadConfig({ file: 'etc/tessera.json', cwd: tmp.dir, env: { TESSERA_TRUST_PROXY: 'a, b' } }),
    )
    expect(proxy.message).toBe(
      'invalid configuration: TESSERA_TRUST_PROXY: trustProxy[0] must be an IP address',
    )
  })

  it('a JSON syntax error gives the line, never the text around it (it may be a secret)', () => {
    const file = join(tmp.dir, 'broken.json')
    writeFileSync(file, `{\n  "issuer": "https://a.example.test",\n  "secret": "${SECRET}",\n}\n`)
    const e = configError(() => loadConfig({ file, cwd: tmp.dir, env: {} }))
    expect(e.setting).toBe('--config')
    expect(e.message).toBe(`invalid configuration: --config: ${file} is not valid JSON (line 4)`)
    expect(e.message).not.toContain(SECRET)
  })

  it('the file must hold an object of known settings', () => {
    const file = join(tmp.dir, 'array.json')
    writeFileSync(file, '[]')
    expect(configError(() => loadConfig({ file, cwd: tmp.dir, env: {} })).setting).toBe('--config')
    writeFileSync(file, JSON.stringify({ issuer: 'https://a.example.test', clientz: [] }))
    expect(configError(() => loadConfig({ file, cwd: tmp.dir, env: {} })).setting).toBe('clientz')
  })
})
