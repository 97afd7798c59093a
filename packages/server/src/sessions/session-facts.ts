import type { SessionRecord } from '../store/types.js'

/**
 * Sessions recently read by this process, kept only for the fields that never change after a
 * session is created: its user, client, salt, scope, resources, DPoP key, sign-in time and
 * methods, creation time and lifetimes. Whatever else the copy holds (state, generation, times of
 * activity) is stale by design and must not be used. Because those fields are immutable, a copy is
 * correct on every instance whatever other instances do, and never needs invalidating.
 *
 * The refresh grant uses it to check a refresh token (MAC, client, DPoP binding, scope) without a
 * read, then rotates with one conditional update that checks the mutable part in the database.
 */
export class SessionFacts {
  readonly #entries = new Map<string, SessionRecord>()
  readonly #max: number

  /** @param max Sessions kept, at most; the oldest entry goes first. Default 50,000. */
  constructor(max = 50_000) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a whole number >= 1')
    this.#max = max
  }

  get(id: string): SessionRecord | undefined {
    return this.#entries.get(id)
  }

  remember(s: SessionRecord): void {
    if (this.#entries.has(s.id)) return
    if (this.#entries.size >= this.#max) {
      this.#entries.delete(this.#entries.keys().next().value as string)
    }
    this.#entries.set(s.id, s)
  }

  get size(): number {
    return this.#entries.size
  }
}
