import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateAdminKey } from '../admin/auth/admin-key-hash.js'
import type { Random } from '../lib/random.js'

/**
 * The dev server's admin key, for the admin console and the Admin API on a developer's machine:
 * generated once into `<dir>/admin-key` (mode 0600) and reused, printed by `tessera dev` like the
 * demo password. Only its hash enters the configuration.
 */
export function devAdminKey(dir: string, random: Random): string {
  const file = join(dir, 'admin-key')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  try {
    writeFileSync(file, generateAdminKey(random) + '\n', { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  const key = readFileSync(file, 'utf8').trim()
  if (key.length < 32 || /\s/.test(key)) {
    throw new Error(`${file} does not hold an admin key; delete it to generate a new one`)
  }
  return key
}
