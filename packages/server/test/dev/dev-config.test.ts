import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEMO_APIS, DEMO_CLIENT_ID, DEMO_SHELL_CLIENT_ID } from '../../src/dev/demo.js'
import { devConfig } from '../../src/dev/dev-config.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { tempDir } from '../cli/cli-process.js'

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir('tessera-devcfg-')
})
afterAll(() => tmp.remove())

/** A configuration file adding one native client with `redirectUri`. */
function extraClientFile(redirectUri: string): string {
  const file = join(tmp.dir, 'extra.json')
  const client = { id: 'lan-app', applicationType: 'native', redirectUris: [redirectUri] }
  writeFileSync(file, JSON.stringify({ clients: [client] }))
  return file
}

describe('dev configuration', () => {
  it('is a resolved config: issuer on localhost:<port>, SQLite and secret in .tessera, dev on', () => {
    const c = devConfig({ cwd: tmp.dir, port: 4123, random: cryptoRandom, env: {} })
    expect(c).toMatchObject({
      issuer: 'http://localhost:4123',
      host: 'localhost',
      port: 4123,
      dev: true,
      logLevel: 'info',
      database: { driver: 'sqlite', file: join(tmp.dir, '.tessera', 'tessera.db') },
    })
    expect(c.secrets[0]?.toString()).toBe(
      readFileSync(join(tmp.dir, '.tessera', 'secret'), 'utf8').trim(),
    )
    expect(statSync(join(tmp.dir, '.tessera')).mode & 0o777).toBe(0o700)
    expect(c.clients.map((x) => x.id)).toEqual([DEMO_CLIENT_ID, DEMO_SHELL_CLIENT_ID])
    expect(c.clients[0]).toMatchObject({
      applicationType: 'native',
      tokenEndpointAuthMethod: 'none',
      redirectUris: [
        'http://localhost:4123/playground/callback',
        'dev.tessera.demo:/callback',
        'http://localhost:8081/callback',
      ],
      postLogoutRedirectUris: ['http://localhost:4123/', 'http://localhost:8081/'],
    })
    expect(c.apis.map((a) => a.audience)).toEqual(DEMO_APIS.map((a) => a.audience))
  })

  it('--issuer: another issuer (a LAN address for a phone), used by the demo client too', () => {
    const c = devConfig({
      cwd: tmp.dir,
      port: 4123,
      host: '0.0.0.0',
      issuer: 'http://192.168.1.20:4123/',
      random: cryptoRandom,
      env: {},
    })
    expect(c).toMatchObject({ issuer: 'http://192.168.1.20:4123', host: '0.0.0.0', dev: true })
    expect(c.clients[0]?.redirectUris?.[0]).toBe('http://192.168.1.20:4123/playground/callback')
    expect(c.clients[0]?.postLogoutRedirectUris?.[0]).toBe('http://192.168.1.20:4123/')
    // only the server's own http origin: another http host on the LAN is still refused
    expect(() =>
      devConfig({
        cwd: tmp.dir,
        port: 4123,
        issuer: 'http://192.168.1.20:4123',
        file: extraClientFile('http://192.168.1.21:8081/callback'),
        random: cryptoRandom,
        env: {},
      }),
    ).toThrow(/must use https/)
  })

  it('ignores the production environment except the log level', () => {
    const c = devConfig({
      cwd: tmp.dir,
      random: cryptoRandom,
      env: {
        TESSERA_ISSUER: 'https://auth.example.test',
        TESSERA_SECRET: 'x'.repeat(40),
        DATABASE_URL: 'postgres://db/tessera',
        TESSERA_LOG_LEVEL: 'warn',
      },
    })
    expect(c.issuer).toBe('http://localhost:4000')
    expect(c.secrets[0]?.toString()).not.toBe('x'.repeat(40))
    expect(c.database.driver).toBe('sqlite')
    expect(c.logLevel).toBe('warn')
  })

  it('--config adds the file clients and APIs to the demo ones', () => {
    const file = join(tmp.dir, 'mine.json')
    writeFileSync(
      file,
      JSON.stringify({
        apis: [{ audience: 'https://mine.example.test', scopes: ['mine'] }],
        clients: [
          {
            id: 'my-spa',
            redirectUris: ['http://localhost:5173/callback'],
            audiences: ['https://mine.example.test'],
          },
        ],
      }),
    )
    const c = devConfig({ cwd: tmp.dir, random: cryptoRandom, env: {}, file })
    expect(c.clients.map((x) => x.id)).toEqual([DEMO_CLIENT_ID, DEMO_SHELL_CLIENT_ID, 'my-spa'])
    expect(c.apis.map((a) => a.audience)).toEqual([
      ...DEMO_APIS.map((a) => a.audience),
      'https://mine.example.test',
    ])
  })

  it('an existing secret file readable by others is narrowed to 0600, a short one refused', () => {
    const dir = tempDir('tessera-devsecret-')
    try {
      devConfig({ cwd: dir.dir, random: cryptoRandom, env: {} })
      const file = join(dir.dir, '.tessera', 'secret')
      chmodSync(file, 0o644)
      devConfig({ cwd: dir.dir, random: cryptoRandom, env: {} })
      expect(statSync(file).mode & 0o777).toBe(0o600)
      writeFileSync(file, 'short\n')
      expect(() => devConfig({ cwd: dir.dir, random: cryptoRandom, env: {} })).toThrow(
        /holds fewer than 32 characters/,
      )
    } finally {
      dir.remove()
    }
  })
})
