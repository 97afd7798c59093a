import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyPassword } from '../../src/users/password.js'
import { rowCounts } from '../helpers/oauth-flow.js'
import {
  adminApi,
  allEvents,
  API_ACTOR,
  startAdminServer,
  type TestServer,
} from './admin-helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startAdminServer()
})
afterAll(async () => {
  await t.close()
})

const ok = { username: 'valid.user', password: 'long enough password' }

/** Asserts a 400 with exactly this description, and that nothing was written. */
async function expectRefused(
  method: string,
  path: string,
  body: unknown,
  description: string,
  headers: Record<string, string> = {},
  status = 400,
): Promise<void> {
  const before = rowCounts(t)
  const users = await t.store.listUsers({ limit: 1000 })
  const r = await adminApi(t, method, path, body, { headers })
  expect({ status: r.status, body: r.body }).toStrictEqual({
    status,
    body: {
      error: status === 400 ? 'invalid_request' : status === 404 ? 'not_found' : 'conflict',
      error_description: description,
    },
  })
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8')
  expect(rowCounts(t)).toStrictEqual(before)
  expect(await t.store.listUsers({ limit: 1000 })).toStrictEqual(users)
}

describe('POST /users', () => {
  it('creates a user with a hashed password and records user_created with the actor', async () => {
    const r = await adminApi(t, 'POST', '/users', {
      username: 'Ada',
      password: 'analytical engine',
      email: 'ada@example.test',
      name: 'Ada Lovelace',
      metadata: { roles: ['admin'], org: { id: 'org_1' } },
    })
    expect(r.status).toBe(201)
    expect(r.body).toStrictEqual({
      id: expect.stringMatching(/^usr_[A-Za-z0-9_-]{22}$/),
      username: 'Ada',
      email: 'ada@example.test',
      emailVerified: false,
      name: 'Ada Lovelace',
      disabled: false,
      metadata: { roles: ['admin'], org: { id: 'org_1' } },
      passwordChangedAt: t.clock.now(),
      emailVerifiedAt: null,
      createdAt: t.clock.now(),
      updatedAt: t.clock.now(),
    })
    const stored = await t.store.getUser(r.body.id)
    expect(await verifyPassword('analytical engine', stored!.passwordHash)).toBe(true)
    const [ev] = await t.store.listEvents({ type: 'user_created', userId: r.body.id })
    expect(ev).toMatchObject({ ip: '127.0.0.1', data: { username: 'Ada', actor: API_ACTOR } })
    const got = await adminApi(t, 'GET', `/users/${r.body.id}`)
    expect(got.body).toStrictEqual(r.body)
    expect(JSON.stringify(got.body)).not.toMatch(/scrypt|passwordHash|analytical/)
  })

  it('a taken username, in any case, is 409 and writes nothing', async () => {
    await expectRefused('POST', '/users', { ...ok, username: 'ADA' }, 'username is taken', {}, 409)
  })

  it.each([
    [{}, 'username is required'],
    [{ username: 'x' }, 'password is required'],
    [{ ...ok, role: 'admin' }, 'unknown field role'],
    [{ ...ok, username: 7 }, 'username: must be a string of at most 128 characters'],
    [{ ...ok, username: 'u'.repeat(129) }, 'username: must be a string of at most 128 characters'],
    [
      { ...ok, username: 'two words' },
      'username must be 1 to 128 characters of letters, digits and . _ @ + -',
    ],
    [{ ...ok, username: null }, 'username: must be a string of at most 128 characters'],
    [{ ...ok, password: 'short' }, 'password must be 8 to 1024 characters'],
    [
      { ...ok, password: 'p'.repeat(1025) },
      'password: must be a string of at most 1024 characters',
    ],
    [{ ...ok, email: 'not-an-address' }, 'email: must be an address of at most 254 characters'],
    [{ ...ok, email: 42 }, 'email: must be a string of at most 254 characters, or null'],
    [{ ...ok, name: '' }, 'name: must be 1 to 200 characters without control characters'],
    [{ ...ok, name: 'a\u0000b' }, 'name: must be 1 to 200 characters without control characters'],
    [{ ...ok, name: 'n'.repeat(201) }, 'name: must be a string of at most 200 characters, or null'],
    [{ ...ok, metadata: ['roles'] }, 'metadata: must be a JSON object'],
    [
      { ...ok, metadata: { blob: 'x'.repeat(16_400) } },
      'metadata: must be at most 16384 bytes of JSON',
    ],
    [[ok], 'the request body must be a JSON object (Content-Type: application/json)'],
    ['"just a string"', 'the request body must be a JSON object (Content-Type: application/json)'],
    ['{"username": ', 'request body is not valid JSON'],
  ])('invalid input %#: 400 naming the field, nothing written', async (body, description) => {
    await expectRefused('POST', '/users', body, description)
  })

  it.each([
    [
      'application/x-www-form-urlencoded',
      'username=a&password=bbbbbbbbbb',
      'the request body must be a JSON object (Content-Type: application/json)',
    ],
    ['text/plain', 'hello', 'the request body must be JSON (Content-Type: application/json)'],
  ])('a %s body is refused', async (type, body, description) => {
    await expectRefused('POST', '/users', body, description, { 'content-type': type })
  })
})

describe('PATCH /users/:id', () => {
  it('changes email, name and metadata; null clears; the event names the fields', async () => {
    const id = (
      await adminApi(t, 'POST', '/users', {
        username: 'grace',
        password: 'compiler A-0 1952',
        name: 'Grace',
      })
    ).body.id
    t.clock.advance(1000)
    const r = await adminApi(t, 'PATCH', `/users/${id}`, {
      email: 'grace@navy.example.test',
      name: null,
      metadata: { rank: 'rear admiral' },
    })
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      email: 'grace@navy.example.test',
      name: null,
      metadata: { rank: 'rear admiral' },
      updatedAt: t.clock.now(),
    })
    expect(await t.store.getUser(id)).toMatchObject({
      name: null,
      email: 'grace@navy.example.test',
    })
    const [ev] = await t.store.listEvents({ type: 'user_updated', userId: id })
    expect(ev?.data).toStrictEqual({ fields: ['email', 'name', 'metadata'], actor: API_ACTOR })
  })

  it('an empty patch, an unknown field or an unknown user changes nothing', async () => {
    const id = (await t.store.getUserByUsername('grace'))!.id
    await expectRefused(
      'PATCH',
      `/users/${id}`,
      {},
      'nothing to change: give email, name or metadata',
    )
    await expectRefused('PATCH', `/users/${id}`, { username: 'other' }, 'unknown field username')
    await expectRefused('PATCH', `/users/${id}`, { disabled: true }, 'unknown field disabled')
    await expectRefused('PATCH', '/users/usr_nobody', { name: 'x' }, 'no user usr_nobody', {}, 404)
  })
})

describe('disable, enable', () => {
  it('disable twice is 409; enable of an enabled user is 409; actions take no body', async () => {
    const id = (
      await adminApi(t, 'POST', '/users', { username: 'toggle', password: 'toggle password' })
    ).body.id
    expect((await adminApi(t, 'POST', `/users/${id}/disable`, {})).status).toBe(200)
    await expectRefused(
      'POST',
      `/users/${id}/disable`,
      undefined,
      `user ${id} is already disabled`,
      {},
      409,
    )
    expect((await adminApi(t, 'POST', `/users/${id}/enable`)).body.disabled).toBe(false)
    await expectRefused(
      'POST',
      `/users/${id}/enable`,
      undefined,
      `user ${id} is not disabled`,
      {},
      409,
    )
    await expectRefused('POST', `/users/${id}/disable`, { reason: 'x' }, 'unknown field reason')
    expect((await t.store.getUser(id))?.disabled).toBe(false)
  })

  it('unknown users are 404 for every action', async () => {
    for (const [m, p] of [
      ['GET', '/users/usr_x'],
      ['DELETE', '/users/usr_x'],
      ['POST', '/users/usr_x/disable'],
      ['POST', '/users/usr_x/enable'],
      ['POST', '/users/usr_x/sessions/revoke'],
    ] as const) {
      await expectRefused(m, p, undefined, 'no user usr_x', {}, 404)
    }
    await expectRefused(
      'POST',
      '/users/usr_x/password',
      { password: 'long enough pw' },
      'no user usr_x',
      {},
      404,
    )
  })
})

describe('GET /users', () => {
  it('searches username, email and name, and pages with an opaque cursor', async () => {
    for (const n of ['pg-e', 'pg-a', 'pg-d', 'pg-c', 'pg-b', 'pg-f', 'pg-g']) {
      await adminApi(t, 'POST', '/users', { username: n, password: 'paging password' })
    }
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const q = new URLSearchParams({ search: 'PG-', limit: '3', ...(cursor ? { cursor } : {}) })
      const r = await adminApi(t, 'GET', `/users?${q}`)
      expect(r.status).toBe(200)
      seen.push(...r.body.users.map((u: { username: string }) => u.username))
      cursor = r.body.nextCursor
      pages++
    } while (cursor !== null)
    expect(seen).toStrictEqual(['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e', 'pg-f', 'pg-g'])
    expect(pages).toBe(3)
    const byEmail = await adminApi(t, 'GET', '/users?search=navy.example')
    expect(byEmail.body.users.map((u: { username: string }) => u.username)).toStrictEqual(['grace'])
  })

  it.each([
    ['?limit=0', 'limit: must be a whole number from 1 to 500'],
    ['?limit=501', 'limit: must be a whole number from 1 to 500'],
    ['?limit=ten', 'limit: must be a whole number from 1 to 500'],
    ['?cursor=not-a-cursor', 'cursor is not a cursor of this listing'],
    [
      `?cursor=${Buffer.from('["sessions",1,"x"]').toString('base64url')}`,
      'cursor is not a cursor of this listing',
    ],
    [
      `?cursor=${Buffer.from('["users",5]').toString('base64url')}`,
      'cursor is not a cursor of this listing',
    ],
    ['?search=a&search=b', 'parameter search is included more than once'],
    ['?search=' + 's'.repeat(129), 'parameter search is too long'],
    ['?sort=name', 'unknown query parameter sort'],
  ])('a bad query %s is 400', async (query, description) => {
    const r = await adminApi(t, 'GET', `/users${query}`)
    expect({ status: r.status, body: r.body }).toStrictEqual({
      status: 400,
      body: { error: 'invalid_request', error_description: description },
    })
  })
})

describe('every admin action is audited', () => {
  it('each change above left one event with the actor; reads left none', async () => {
    const before = (await allEvents(t)).length
    await adminApi(t, 'GET', '/users')
    await adminApi(t, 'GET', '/events')
    expect((await allEvents(t)).length).toBe(before)
    const adminTypes = new Set(['user_created', 'user_updated', 'user_disabled', 'user_enabled'])
    const adminEvents = (await allEvents(t)).filter((x) => adminTypes.has(x.type))
    // One event per change: every user (all made through the API) created once, grace updated
    // once, toggle disabled once and enabled once; the refused attempts left none.
    const usersOf = (type: string) =>
      adminEvents
        .filter((e) => e.type === type)
        .map((e) => e.userId)
        .sort()
    const users = await t.store.listUsers({ limit: 1000 })
    const idOf = (username: string) => users.find((u) => u.username === username)?.id
    expect(usersOf('user_created')).toStrictEqual(users.map((u) => u.id).sort())
    expect(usersOf('user_updated')).toStrictEqual([idOf('grace')])
    expect(usersOf('user_disabled')).toStrictEqual([idOf('toggle')])
    expect(usersOf('user_enabled')).toStrictEqual([idOf('toggle')])
    for (const e of adminEvents) {
      expect(e.data.actor).toStrictEqual(API_ACTOR)
      expect(e.ip).toBe('127.0.0.1')
    }
  })
})
