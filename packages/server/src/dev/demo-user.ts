import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from '../lib/clock.js'
import type { Random } from '../lib/random.js'
import type { Store } from '../store/store.js'
import { createUser } from '../users/create-user.js'
import { hashPassword, type PasswordCost } from '../users/password.js'
import { DEMO_USERNAME, DEMO_USER_METADATA } from './demo.js'

export interface DemoCredentials {
  username: string
  password: string
  userId: string
  /** True when this call created the user or gave it a new password. */
  created: boolean
}

/**
 * The demo user of dev mode. Its random password is stored in `<dir>/demo.json` (mode 0600) so
 * every run can print it again; the database holds only the hash.
 */
export async function ensureDemoUser(
  deps: { store: Store; clock: Clock; random: Random; passwordCost: PasswordCost },
  dir: string,
): Promise<DemoCredentials> {
  const file = join(dir, 'demo.json')
  const saved = existsSync(file) ? readDemoFile(file) : undefined
  const existing = await deps.store.getUserByUsername(DEMO_USERNAME)

  if (saved && existing && existing.id === saved.userId) {
    return { ...saved, created: false }
  }
  const password = saved?.password ?? deps.random.bytes(18).toString('base64url')
  let userId: string
  if (existing) {
    // demo.json was lost: the old password cannot be recovered, so set a new one.
    const now = deps.clock.now()
    await deps.store.updateUser({
      ...existing,
      passwordHash: await hashPassword(password, deps.passwordCost),
      passwordChangedAt: now,
      emailVerifiedAt: null,
      updatedAt: now,
    })
    userId = existing.id
  } else {
    const user = await createUser(deps, {
      username: DEMO_USERNAME,
      password,
      email: 'demo@tessera.test',
      name: 'Demo User',
      metadata: { ...DEMO_USER_METADATA },
    })
    userId = user.id
  }
  const creds = { username: DEMO_USERNAME, password, userId }
  writeFileSync(file, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return { ...creds, created: true }
}

function readDemoFile(file: string): Omit<DemoCredentials, 'created'> | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
    if (
      typeof v.username === 'string' &&
      typeof v.password === 'string' &&
      typeof v.userId === 'string'
    ) {
      return { username: v.username, password: v.password, userId: v.userId }
    }
  } catch {
    // unreadable or not JSON: treated as missing, a new password is set
  }
  return undefined
}
