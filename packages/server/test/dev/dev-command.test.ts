import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { DEMO_APIS, DEMO_CLIENT_ID } from '../../src/dev/demo.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { verifyPassword } from '../../src/users/password.js'
import { CliProcess, tempDir } from '../cli/cli-process.js'
import { postForm } from '../helpers/grants.js'
import { authorize } from '../helpers/oauth-flow.js'
import type { TestServer } from '../helpers/test-server.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir('tessera-dev-')
})
afterAll(() => tmp.remove())

const mode = (file: string): number => statSync(file).mode & 0o777

async function jwksKids(url: string): Promise<string[]> {
  const res = await fetch(url + '/.well-known/jwks.json')
  const { keys } = (await res.json()) as { keys: { kid: string }[] }
  return keys.map((k) => k.kid).sort()
}

describe('tessera dev', () => {
  let first: { values: Map<string, string[]>; secret: string; kids: string[] }

  it('first run prints the demo setup as key: value lines and creates working credentials', async () => {
    const p = new CliProcess(['dev', '--port', '0'], { cwd: tmp.dir })
    try {
      const url = await p.url()
      const port = new URL(url).port
      // The last line of the announcement: every value before it is printed.
      await p.waitFor(/^data: /m)
      const v = p.values()
      expect(v.get('issuer')).toEqual([`http://localhost:${port}`])
      expect(url).toBe(`http://localhost:${port}`)
      expect(v.get('client_id')).toEqual([DEMO_CLIENT_ID])
      expect(v.get('redirect_uri')).toEqual([
        `http://localhost:${port}/playground/callback`,
        'dev.tessera.demo:/callback',
        'http://localhost:8081/callback',
      ])
      expect(v.get('expo_go_redirect_uri')).toEqual([
        'exp://HOST:PORT/--/PATH (any, for this client in dev only)',
      ])
      expect(v.get('username')).toEqual(['demo'])
      expect(v.get('audience')).toEqual(DEMO_APIS.map((a) => a.audience))
      const password = v.get('password')?.[0] ?? ''
      expect(password.length).toBeGreaterThanOrEqual(20)

      // The issuer is reachable and advertises itself.
      const doc = (await (await fetch(url + '/.well-known/openid-configuration')).json()) as {
        issuer: string
      }
      expect(doc.issuer).toBe(`http://localhost:${port}`)

      // Secret and demo credentials are files only the owner can read.
      const dir = join(tmp.dir, '.tessera')
      expect(mode(join(dir, 'secret'))).toBe(0o600)
      expect(mode(join(dir, 'demo.json'))).toBe(0o600)
      const secret = readFileSync(join(dir, 'secret'), 'utf8').trim()
      expect(secret.length).toBeGreaterThanOrEqual(32)
      const demo = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8')) as Record<
        string,
        string
      >
      expect(demo.password).toBe(password)
      // The admin console and API, with a key kept like the secret and printed like the password.
      expect(v.get('admin')).toEqual([`http://localhost:${port}/admin`])
      const adminKey = v.get('admin_key')?.[0] ?? ''
      expect(adminKey).toMatch(/^tsa_[A-Za-z0-9_-]{43}$/)
      expect(mode(join(dir, 'admin-key'))).toBe(0o600)
      const users = await fetch(url + '/admin/api/v1/users', {
        headers: { authorization: `Bearer ${adminKey}` },
      })
      expect(users.status).toBe(200)
      expect(((await users.json()) as { users: { username: string }[] }).users).toMatchObject([
        { username: 'demo' },
      ])
      // The printed credentials sign in to the printed client, and the printed audiences work.
      const signIn = await authorize({ url } as TestServer, {
        clientId: v.get('client_id')![0]!,
        redirectUri: v.get('redirect_uri')![0]!,
        scope: 'openid profile offline_access orders:read',
        username: v.get('username')![0]!,
        password,
      })
      expect(signIn.iss).toBe(url)
      const tokens = await postForm(url + '/oauth/token', {
        grant_type: 'authorization_code',
        code: signIn.code,
        code_verifier: signIn.codeVerifier,
        redirect_uri: signIn.redirectUri,
        client_id: DEMO_CLIENT_ID,
        resource: v.get('audience')![0]!,
      })
      expect(tokens.status).toBe(200)
      const claims = decodeJwt(tokens.body.access_token as string)
      expect(claims).toMatchObject({ aud: DEMO_APIS[0]!.audience, roles: ['customer', 'support'] })

      first = { values: v, secret, kids: await jwksKids(url) }
      expect(first.kids).toHaveLength(1)
    } finally {
      expect(await p.stop()).toEqual({ code: 0, signal: null })
    }

    // After shutdown: the store holds the demo user (with that password), client and APIs.
    const store = new SqliteStore({ file: join(tmp.dir, '.tessera', 'tessera.db') })
    try {
      const user = await store.getUserByUsername('demo')
      expect(user).toBeDefined()
      expect(
        await verifyPassword(first.values.get('password')?.[0] ?? '', user!.passwordHash),
      ).toBe(true)
      expect(await verifyPassword('not-the-password', user!.passwordHash)).toBe(false)
      expect(user!.metadata).toMatchObject({ roles: ['customer', 'support'], plan: 'pro' })
      const client = await store.getClient(DEMO_CLIENT_ID)
      expect(client?.tokenEndpointAuthMethod).toBe('none')
      expect(client?.redirectUris).toEqual(first.values.get('redirect_uri'))
      expect(client?.audiences).toEqual(DEMO_APIS.map((a) => a.audience))
      for (const a of DEMO_APIS) {
        const api = await store.getApi(a.audience)
        expect(api?.scopes).toEqual(a.scopes)
        expect(api?.userClaims).toEqual(a.userClaims ?? [])
      }
    } finally {
      await store.close()
    }
  })

  it('a second run reuses the same secret, demo user, password and signing keys', async () => {
    const p = new CliProcess(['dev', '--port', '0'], { cwd: tmp.dir })
    try {
      const url = await p.url()
      await p.waitFor(/^password: /m)
      const v = p.values()
      expect(v.get('password')).toEqual(first.values.get('password'))
      expect(v.get('client_id')).toEqual(first.values.get('client_id'))
      expect(v.get('admin_key')).toEqual(first.values.get('admin_key'))
      expect(readFileSync(join(tmp.dir, '.tessera', 'secret'), 'utf8').trim()).toBe(first.secret)
      // Same keys: they were decrypted with the same secret, none was added.
      expect(await jwksKids(url)).toEqual(first.kids)
    } finally {
      expect(await p.stop()).toEqual({ code: 0, signal: null })
    }
    const store = new SqliteStore({ file: join(tmp.dir, '.tessera', 'tessera.db') })
    try {
      expect(await store.listUsers()).toHaveLength(1)
    } finally {
      await store.close()
    }
  })

  it('a lost demo.json gets the demo user a new password, printed and saved again', async () => {
    const { rmSync } = await import('node:fs')
    rmSync(join(tmp.dir, '.tessera', 'demo.json'))
    const p = new CliProcess(['dev', '--port', '0'], { cwd: tmp.dir })
    let password = ''
    try {
      await p.url()
      await p.waitFor(/^password: /m)
      password = p.values().get('password')?.[0] ?? ''
      expect(password).not.toBe(first.values.get('password')?.[0])
    } finally {
      expect(await p.stop()).toEqual({ code: 0, signal: null })
    }
    const store = new SqliteStore({ file: join(tmp.dir, '.tessera', 'tessera.db') })
    try {
      const users = await store.listUsers()
      expect(users).toHaveLength(1)
      expect(await verifyPassword(password, users[0]!.passwordHash)).toBe(true)
    } finally {
      await store.close()
    }
  })
})
