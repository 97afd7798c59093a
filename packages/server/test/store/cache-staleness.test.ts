import { decodeJwt } from 'jose'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { postForm, signInTokens } from '../helpers/grants.js'
import { authorizationParams, CookieJar, openLogin, startAuthorize } from '../helpers/oauth-flow.js'
import { API_A, startTestServer, type TestServer } from '../helpers/test-server.js'

/**
 * The README's promise on what an instance keeps in memory: clients and APIs for 5 s of
 * wall-clock time, the user record behind refreshed tokens at most 5 s old; a change made
 * elsewhere (another instance, the CLI: here a second store on the same SQLite file) shows within
 * 5 s, one made through this process at once. The caches read wall-clock time from
 * `performance.now()`, which the test fakes (only it: timers and I/O stay real), so the 5 s
 * boundary is checked exactly: still stale 1 ms before, fresh at 5 s.
 */

let t: TestServer
let other: SqliteStore
beforeAll(async () => {
  t = await startTestServer({ config: { maintenanceIntervalSeconds: 0 } })
  other = new SqliteStore({ file: t.dbFile })
})
afterAll(async () => {
  await other.close()
  await t.close()
})
afterEach(() => {
  vi.useRealTimers()
})

async function clientNameOnSignIn(): Promise<string | undefined> {
  const jar = new CookieJar()
  const login = await openLogin(t, await startAuthorize(t, authorizationParams().params, jar), jar)
  return /to continue to <strong>([^<]*)<\/strong>/.exec(login.html)?.[1]
}

describe('cross-instance caches: at most 5 s stale', () => {
  it("a client renamed by another instance shows within 5 s of this instance's read, not sooner", async () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    expect(await clientNameOnSignIn()).toBe('web-app')
    const stored = (await other.getClient('web-app'))!
    await other.upsertClient({ ...stored, name: 'Renamed App' })
    vi.advanceTimersByTime(4999)
    expect(await clientNameOnSignIn()).toBe('web-app')
    vi.advanceTimersByTime(1)
    expect(await clientNameOnSignIn()).toBe('Renamed App')
    // A change through this process's own store drops its copy at once.
    await t.store.upsertClient({ ...stored, name: 'Local Name' })
    expect(await clientNameOnSignIn()).toBe('Local Name')
  })

  it("a user's metadata changed elsewhere reaches refreshed tokens within 5 s; changed here, at once", async () => {
    vi.useFakeTimers({ toFake: ['performance'] })
    const alice = await t.createUser('alice', 'correct horse battery', { roles: ['reader'] })
    const s = await signInTokens(t, alice, { resource: API_A })
    let rt = s.body.refresh_token as string
    const rolesAfterRefresh = async () => {
      const r = await postForm(t.url + '/oauth/token', {
        grant_type: 'refresh_token',
        refresh_token: rt,
        client_id: 'web-app',
        resource: API_A,
      })
      expect(r.status).toBe(200)
      rt = r.body.refresh_token as string
      return decodeJwt(r.body.access_token as string).roles
    }
    expect(await rolesAfterRefresh()).toEqual(['reader'])
    const user = (await other.getUser(alice.id))!
    await other.updateUser({ ...user, metadata: { roles: ['admin'] } })
    vi.advanceTimersByTime(4999)
    expect(await rolesAfterRefresh()).toEqual(['reader'])
    vi.advanceTimersByTime(1)
    expect(await rolesAfterRefresh()).toEqual(['admin'])
    const now = (await t.store.getUser(alice.id))!
    await t.store.updateUser({ ...now, metadata: { roles: ['owner'] } })
    expect(await rolesAfterRefresh()).toEqual(['owner'])
  })
})
