/**
 * The password rules of sign-up, reset and change, as NIST SP 800-63B 5.1.1.2 asks: a minimum
 * length (`accounts.passwordMinLength`, default 8, counted in Unicode code points after NFKC),
 * at most 1024 characters, not a commonly used or breached password (a local list of about
 * 18,000, shipped in `data/common-passwords.txt`, compared without case), not the username or
 * address itself; and no composition rules (no "one digit, one symbol").
 *
 * @see https://pages.nist.gov/800-63-3/sp800-63b.html#memsecret
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

// Resolved with node:path from the module's own file path, not with the global `URL`: the server
// is also loaded in DOM test environments whose `URL` is not Node's.
export const COMMON_PASSWORDS_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../data/common-passwords.txt',
)

let common: Set<string> | undefined

function commonPasswords(): Set<string> {
  common ??= new Set(
    readFileSync(COMMON_PASSWORDS_FILE, 'utf8')
      .split('\n')
      .map((l) => l.trim().toLowerCase())
      .filter((l) => l !== ''),
  )
  return common
}

/** Why a new password is refused (a sentence for the page), or undefined when it is acceptable. */
export function passwordProblem(
  password: string,
  o: { minLength: number; username?: string; email?: string | null },
): string | undefined {
  const length = [...password.normalize('NFKC')].length
  if (length < o.minLength) return `Use at least ${o.minLength} characters.`
  if (password.length > 1024) return 'Use at most 1024 characters.'
  const lower = password.normalize('NFKC').toLowerCase()
  if (commonPasswords().has(lower)) {
    return 'This password is too common: it appears in lists of breached passwords. Choose another.'
  }
  if (lower === o.username?.toLowerCase() || lower === o.email?.toLowerCase()) {
    return 'Your password must not be your username or email address.'
  }
  return undefined
}
