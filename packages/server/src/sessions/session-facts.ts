import type { SessionRecord } from '../store/types.js'
import { BoundedMap } from '../lib/bounded-map.js'

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
  readonly #entries: BoundedMap<string, SessionRecord>

  /** @param max Sessions kept, at most; the oldest entry goes first. Default 50,000. */
  constructor(max = 50_000) {
    this.#entries = new BoundedMap(max)
  }

  get(id: string): SessionRecord | undefined {
    return this.#entries.get(id)
  }

  remember(s: SessionRecord): void {
    if (!this.#entries.has(s.id)) this.#entries.set(s.id, s)
  }
}
