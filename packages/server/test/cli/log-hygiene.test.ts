import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { basicAuth, postForm } from '../helpers/grants.js'
import { authorize, browserFetch, CookieJar, formFields } from '../helpers/oauth-flow.js'
import { freePort, type TestServer } from '../helpers/test-server.js'
import { CliProcess, cleanEnv, runCli, tempDir } from './cli-process.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const SECRET = 'hygiene-server-secret-hygiene-server-secret-42'
const CLIENT_SECRET = 'hygiene-client-secret-hygiene-client-secret-42'
const PASSWORD = 'hygiene password 1234'
const WRONG_PASSWORD = 'wrong password 98765'
const API = 'https://api.hygiene.test'
const REDIRECT = 'https://app.hygiene.test/callback'
const ADMIN_KEY = 'hygiene-admin-key-hygiene-admin-key-0123456789'
const ADMIN_PASSWORD = 'set by an admin 4321'

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir()
})
afterAll(() => tmp.remove())

describe('logs of a production server', () => {
  it('a full sign-in, refresh and revocation write no token, secret, password or code to stdout or stderr', async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const config = join(tmp.dir, 'tessera.json')
    writeFileSync(
      config,
      JSON.stringify({
        issuer: url,
        database: { driver: 'sqlite', file: 'tessera.db' },
        passwordCost: { N: 1024, r: 8, p: 1 },
        apis: [{ audience: API, scopes: ['read'], userClaims: ['roles'] }],
        clients: [
          {
            id: 'web',
            redirectUris: [REDIRECT],
            audiences: [API],
            scopes: ['openid', 'profile', 'offline_access', 'read'],
          },
          {
            id: 'backend',
            secret: CLIENT_SECRET,
            redirectUris: ['https://backend.hygiene.test/callback'],
            grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
            audiences: [API],
            scopes: ['openid', 'read'],
          },
        ],
      }),
    )
    // The most verbose level: whatever the server logs, it logs here.
    const env = cleanEnv({
      TESSERA_SECRET: SECRET,
      TESSERA_LOG_LEVEL: 'trace',
      TESSERA_ADMIN_API_KEY: ADMIN_KEY,
    })
    const created = await runCli(['users', 'create', '--username', 'alice'], {
      cwd: tmp.dir,
      env,
      stdin: PASSWORD + '\n',
    })
    expect(created.code).toBe(0)

    const p = new CliProcess(['start', '--port', String(port)], { cwd: tmp.dir, env })
    const secrets: string[] = [
      SECRET,
      CLIENT_SECRET,
      PASSWORD,
      WRONG_PASSWORD,
      ADMIN_KEY,
      ADMIN_PASSWORD,
    ]
    try {
      expect(await p.url()).toBe(url)
      const t = { url } as TestServer

      // A failed sign-in first, then the real one.
      await expect(
        authorize(t, {
          clientId: 'web',
          redirectUri: REDIRECT,
          username: 'alice',
          password: WRONG_PASSWORD,
        }),
      ).rejects.toThrow()
      const a = await authorize(t, {
        clientId: 'web',
        redirectUri: REDIRECT,
        scope: 'openid profile offline_access read',
        username: 'alice',
        password: PASSWORD,
        nonce: 'hygiene-nonce',
      })
      secrets.push(a.code, a.codeVerifier)
      for (const c of a.cookies.names()) secrets.push(a.cookies.get(c)!)

      const tokens = await postForm(url + '/oauth/token', {
        grant_type: 'authorization_code',
        code: a.code,
        code_verifier: a.codeVerifier,
        redirect_uri: REDIRECT,
        client_id: 'web',
      })
      expect(tokens.status).toBe(200)
      secrets.push(tokens.body.access_token, tokens.body.refresh_token, tokens.body.id_token)

      // Replaying the code is refused (and revokes): the refusal is logged, the code is not.
      const replay = await postForm(url + '/oauth/token', {
        grant_type: 'authorization_code',
        code: a.code,
        code_verifier: a.codeVerifier,
        redirect_uri: REDIRECT,
        client_id: 'web',
      })
      expect(replay.status).toBe(400)

      // A second sign-in (SSO) for the refresh part, since the replay ended the first session.
      const b = await authorize(t, {
        clientId: 'web',
        redirectUri: REDIRECT,
        scope: 'openid profile offline_access read',
        jar: a.cookies,
      })
      secrets.push(b.code, b.codeVerifier)
      const t2 = await postForm(url + '/oauth/token', {
        grant_type: 'authorization_code',
        code: b.code,
        code_verifier: b.codeVerifier,
        redirect_uri: REDIRECT,
        client_id: 'web',
      })
      expect(t2.status).toBe(200)
      secrets.push(t2.body.access_token, t2.body.refresh_token, t2.body.id_token)

      const refreshed = await postForm(url + '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: t2.body.refresh_token,
        client_id: 'web',
        resource: API,
      })
      expect(refreshed.status).toBe(200)
      secrets.push(refreshed.body.access_token, refreshed.body.refresh_token)
      // A tampered refresh token: invalid_grant, logged without the token.
      const tampered = t2.body.refresh_token.slice(0, -4) + 'AAAA'
      secrets.push(tampered)
      expect(
        (
          await postForm(url + '/oauth/token', {
            grant_type: 'refresh_token',
            refresh_token: tampered,
            client_id: 'web',
          })
        ).status,
      ).toBe(400)

      const info = await fetch(url + '/userinfo', {
        headers: { authorization: `Bearer ${t2.body.access_token}` },
      })
      expect(info.status).toBe(200)

      const cc = await postForm(
        url + '/oauth/token',
        { grant_type: 'client_credentials', resource: API, scope: 'read' },
        basicAuth('backend', CLIENT_SECRET),
      )
      expect(cc.status).toBe(200)
      secrets.push(cc.body.access_token, basicAuth('backend', CLIENT_SECRET).authorization!)
      const badClient = await postForm(
        url + '/oauth/token',
        { grant_type: 'client_credentials', resource: API },
        basicAuth('backend', CLIENT_SECRET + 'x'),
      )
      expect(badClient.status).toBe(401)
      secrets.push(CLIENT_SECRET + 'x')

      const revoked = await postForm(url + '/oauth/revoke', {
        token: refreshed.body.refresh_token,
        client_id: 'web',
      })
      expect(revoked.status).toBe(200)

      // Admin API: a wrong key, a password set, a client whose secret is answered once.
      const admin = (path: string, method: string, body?: unknown, key = ADMIN_KEY) =>
        fetch(url + '/admin/api/v1' + path, {
          method,
          headers: {
            authorization: `Bearer ${key}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        })
      expect((await admin('/users', 'GET', undefined, ADMIN_KEY + 'x')).status).toBe(401)
      secrets.push(ADMIN_KEY + 'x')
      const users = (await (await admin('/users', 'GET')).json()) as { users: { id: string }[] }
      const pw = await admin(`/users/${users.users[0]!.id}/password`, 'POST', {
        password: ADMIN_PASSWORD,
      })
      expect(pw.status).toBe(200)
      const client = await admin('/clients', 'POST', {
        id: 'made-by-admin',
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['client_credentials'],
        audiences: [API],
        scopes: ['read'],
      })
      expect(client.status).toBe(201)
      secrets.push(((await client.json()) as { clientSecret: string }).clientSecret)
      // The console: a sign-in with the key, whose cookie must not be logged either.
      const jar = new CookieJar()
      const form = formFields(await (await browserFetch(jar, url + '/admin/sign-in')).text())
      const signIn = await browserFetch(jar, url + '/admin/sign-in', {
        form: { ...form, key: ADMIN_KEY },
      })
      expect(signIn.status).toBe(303)
      secrets.push(jar.get('tessera_admin')!)
    } finally {
      expect(await p.stop()).toEqual({ code: 0, signal: null })
    }

    const output = p.stdout + p.stderr
    // The server did log (this is not a silent run) ...
    const lines = p.stdout.split('\n').filter((l) => l.startsWith('{'))
    expect(lines.length).toBeGreaterThan(3)
    // ... and no credential appears, whole or as a JWT signature or a refresh-token MAC.
    for (const s of secrets) {
      expect(typeof s).toBe('string')
      expect(output).not.toContain(s)
      const tail = s.split('.').at(-1)!
      if (tail.length >= 20) expect(output).not.toContain(tail)
    }
    expect(output).not.toContain(Buffer.from(SECRET).toString('base64'))
  })
})
