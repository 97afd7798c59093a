import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Random } from '../lib/random.js'

/**
 * The dev server's secret: generated once into `<dir>/secret` (mode 0600) and reused, so refresh
 * tokens, cookies and the encrypted signing keys of earlier runs stay valid.
 */
export function devSecret(dir: string, random: Random): string {
  const file = join(dir, 'secret')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  try {
    writeFileSync(file, random.bytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  // A file created by hand or copied around may be readable by others: it holds a secret.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
  const secret = readFileSync(file, 'utf8').trim()
  if (secret.length < 32) {
    throw new Error(`${file} holds fewer than 32 characters; delete it to generate a new secret`)
  }
  return secret
}
