import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { dummyPasswordHash } from '../../src/login/sign-in.js'
import { authorize } from '../helpers/oauth-flow.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

/**
 * The README's promise for `passwordCost`: it is the cost of new password hashes; existing hashes
 * keep their own cost. A hash made at one cost still verifies after the server restarts with
 * another, and signing in does not rewrite it.
 */

const dir = mkdtempSync(join(tmpdir(), 'tessera-cost-'))
const servers: TestServer[] = []
afterAll(async () => {
  for (const s of servers) await s.close()
  rmSync(dir, { recursive: true, force: true })
})

const costOf = (hash: string) => hash.split('$').slice(0, 4).join('$')

describe('passwordCost applies to new hashes only', () => {
  it('a hash made at N=1024 signs in on a server now configured for N=2048 and keeps its cost; new hashes get the new cost', async () => {
    const before = await startTestServer({ dir, config: { passwordCost: { N: 1024, r: 8, p: 1 } } })
    servers.push(before)
    const alice = await before.createUser('alice', 'correct horse battery')
    expect(costOf(alice.passwordHash)).toBe('scrypt$1024$8$1')
    await before.close()
    servers.pop()

    const after = await startTestServer({ dir, config: { passwordCost: { N: 2048, r: 4, p: 2 } } })
    servers.push(after)
    const a = await authorize(after, { username: 'alice', password: 'correct horse battery' })
    expect(a.signedIn).toBe(true)
    expect(a.code).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const stored = await after.store.getUserByUsername('alice')
    expect(stored?.passwordHash).toBe(alice.passwordHash)

    const bob = await after.createUser('bob', 'bob password 1234')
    expect(costOf(bob.passwordHash)).toBe('scrypt$2048$4$2')
    expect(costOf(await dummyPasswordHash(after.server.ctx))).toBe('scrypt$2048$4$2')
    // The old-cost hash still refuses a wrong password.
    await expect(
      authorize(after, { username: 'alice', password: 'wrong horse battery' }),
    ).rejects.toThrow(/^authorize: expected a 303 back to the client, got 400: /)
  })
})
