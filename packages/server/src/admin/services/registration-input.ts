import { ConfigError } from '../../config/config.js'
import { reasonOf } from '../../config/load.js'
import { InvalidRequest } from '../../oauth/errors.js'

/** Limits on the lists and strings of a client or API registration made through the Admin API. */
export const REGISTRATION_LIMITS = { name: 200, items: 100, item: 2048, claim: 128 } as const

/**
 * Runs the configuration's own validation (resolveClient / resolveApi) on an Admin API input, so a
 * record made through the API obeys exactly the rules of one from the file, and turns its
 * ConfigError into a 400 naming the field (`redirectUris[1]: must not contain a fragment`).
 */
export function validateAs<T>(prefix: string, run: () => T): T {
  try {
    return run()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    const field = err.setting.startsWith(prefix + '.')
      ? err.setting.slice(prefix.length + 1)
      : err.setting
    throw new InvalidRequest(`${field}: ${reasonOf(err)}`)
  }
}

/** Length limits the configuration does not need (a file is written by the operator). */
export function checkLengths(
  input: Record<string, unknown>,
  lists: readonly string[],
  itemMax: number = REGISTRATION_LIMITS.item,
): void {
  const name = input.name
  if (typeof name === 'string' && (name.length === 0 || name.length > REGISTRATION_LIMITS.name)) {
    throw new InvalidRequest(`name: must be 1 to ${REGISTRATION_LIMITS.name} characters`)
  }
  for (const key of lists) {
    const v = input[key]
    if (!Array.isArray(v)) continue
    if (v.length > REGISTRATION_LIMITS.items) {
      throw new InvalidRequest(`${key}: must have at most ${REGISTRATION_LIMITS.items} entries`)
    }
    v.forEach((item: unknown, i) => {
      if (typeof item === 'string' && (item.length === 0 || item.length > itemMax)) {
        throw new InvalidRequest(`${key}[${i}]: must be 1 to ${itemMax} characters`)
      }
    })
  }
}
