import { afterEach, describe, expect, it } from 'vitest'
import { hashAdminKey } from '../../src/admin/auth/admin-key-hash.js'
import { browserFetch, CookieJar, formFields } from '../helpers/oauth-flow.js'
import { freePort, startTestServer, type TestServer } from '../helpers/test-server.js'

const ADMIN_KEY = 'tsa_listeners-test-admin-key-0123456789abcdef'
const apiKeys = [{ name: 'ops', hash: hashAdminKey(ADMIN_KEY) }]

let t: TestServer | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers, redirect: 'manual' })
  return { status: res.status, body: await res.text(), headers: res.headers }
}

const bearer = { authorization: `Bearer ${ADMIN_KEY}` }

describe('internal listeners (admin.port, metrics.port)', () => {
  it('by default the Admin API, the console and /metrics are served on the public port', async () => {
    t = await startTestServer({ config: { admin: { apiKeys } } })
    expect(t.server.internal).toEqual([])
    expect((await get(`${t.url}/admin/api/v1/users`, bearer)).status).toBe(200)
    expect((await get(`${t.url}/admin/sign-in`)).status).toBe(200)
    expect((await get(`${t.url}/metrics`)).body).toContain('tessera_http_requests_total')
    expect(t.server.urlOf('admin')).toBe(t.url)
  })

  it('with admin.port and metrics.port, the public port answers them 404 and the internal ones serve them', async () => {
    t = await startTestServer({ config: { admin: { apiKeys, port: 0 }, metrics: { port: 0 } } })
    expect(t.server.internal.map((l) => l.serves)).toEqual([['admin'], ['metrics']])
    const admin = t.server.urlOf('admin')!
    const metrics = t.server.urlOf('metrics')!
    expect(new Set([t.url, admin, metrics]).size).toBe(3)

    // The public listener: not found, the same answer as any unknown path.
    for (const path of ['/admin/api/v1/users', '/admin/sign-in', '/admin', '/metrics']) {
      const r = await get(t.url + path, bearer)
      expect(r.status, path).toBe(404)
      expect(JSON.parse(r.body)).toEqual({
        error: 'not_found',
        error_description: 'no such endpoint',
      })
    }
    // The public endpoints stay where they were.
    expect((await get(`${t.url}/.well-known/openid-configuration`)).status).toBe(200)
    expect((await get(`${t.url}/healthz`)).status).toBe(200)

    // The admin listener: the Admin API (still behind its key) and the console, no OAuth.
    const users = await get(`${admin}/admin/api/v1/users`, bearer)
    expect(users.status).toBe(200)
    expect(JSON.parse(users.body)).toEqual({ users: [], nextCursor: null })
    expect((await get(`${admin}/admin/api/v1/users`)).status).toBe(401)
    const signIn = await get(`${admin}/admin/sign-in`)
    expect(signIn.status).toBe(200)
    // Root-relative form and links: they work at whatever address operators reach the listener.
    expect(signIn.body).toContain('action="/admin/sign-in"')
    expect(signIn.body).not.toContain(t.url)
    const root = await get(`${admin}/admin`)
    expect(root.status).toBe(303)
    expect(root.headers.get('location')).toBe('/admin/sign-in')
    expect((await get(`${admin}/.well-known/openid-configuration`)).status).toBe(404)
    expect((await get(`${admin}/metrics`)).status).toBe(404)
    expect((await get(`${admin}/healthz`)).status).toBe(200)
    expect((await get(`${admin}/readyz`)).status).toBe(200)

    // The metrics listener: /metrics, counting the requests of every listener.
    const m = await get(`${metrics}/metrics`)
    expect(m.status).toBe(200)
    expect(m.headers.get('content-type')).toContain('text/plain')
    expect(m.body).toContain('tessera_http_requests_total{method="GET",route="/admin/api/v1/users"')
    expect((await get(`${metrics}/admin/api/v1/users`, bearer)).status).toBe(404)
  })

  it('the admin console works on the internal listener: sign-in, pages and actions redirect within it', async () => {
    t = await startTestServer({ config: { admin: { apiKeys, port: 0 } } })
    const alice = await t.createUser('alice')
    const admin = t.server.urlOf('admin')!
    const jar = new CookieJar()
    const page = await browserFetch(jar, `${admin}/admin/sign-in`)
    const signedIn = await browserFetch(jar, `${admin}/admin/sign-in`, {
      form: { ...formFields(await page.text()), key: ADMIN_KEY },
    })
    expect(signedIn.status).toBe(303)
    expect(signedIn.headers.get('location')).toBe('/admin/users')
    const users = await browserFetch(jar, new URL('/admin/users', admin).href)
    expect(users.status).toBe(200)
    const html = await users.text()
    expect(html).toContain(`href="/admin/users/${alice.id}"`)
    expect(html).toContain('action="/admin/sign-out"')
    // An action: disable alice; the redirect stays on the internal listener.
    const userPage = await browserFetch(jar, `${admin}/admin/users/${alice.id}`)
    const { csrf } = formFields(await userPage.text())
    const disabled = await browserFetch(jar, `${admin}/admin/users/${alice.id}/disable`, {
      form: { csrf: csrf! },
    })
    expect(disabled.status).toBe(303)
    expect(disabled.headers.get('location')).toMatch(new RegExp(`^/admin/users/${alice.id}\\?`))
    expect((await t.store.getUser(alice.id))?.disabled).toBe(true)
  })

  it('metrics.port equal to admin.port shares one internal listener', async () => {
    const port = await freePort()
    t = await startTestServer({
      config: { admin: { apiKeys, port }, metrics: { port } },
    })
    expect(t.server.internal.map((l) => l.serves)).toEqual([['admin', 'metrics']])
    const inside = `http://127.0.0.1:${port}`
    expect(t.server.urlOf('metrics')).toBe(inside)
    expect((await get(`${inside}/metrics`)).status).toBe(200)
    expect((await get(`${inside}/admin/api/v1/users`, bearer)).status).toBe(200)
    expect((await get(`${t.url}/metrics`)).status).toBe(404)
    expect((await get(`${t.url}/admin/api/v1/users`, bearer)).status).toBe(404)
  })

  it('metrics.port alone moves only /metrics', async () => {
    t = await startTestServer({ config: { admin: { apiKeys }, metrics: { port: 0 } } })
    expect((await get(`${t.url}/metrics`)).status).toBe(404)
    expect((await get(`${t.server.urlOf('metrics')!}/metrics`)).status).toBe(200)
    expect((await get(`${t.url}/admin/api/v1/users`, bearer)).status).toBe(200)
  })

  it('close() closes every listener', async () => {
    t = await startTestServer({ config: { admin: { apiKeys, port: 0 }, metrics: { port: 0 } } })
    const urls = [t.url, t.server.urlOf('admin')!, t.server.urlOf('metrics')!]
    await t.close()
    t = undefined
    for (const u of urls) await expect(fetch(`${u}/healthz`)).rejects.toThrow()
  })
})
