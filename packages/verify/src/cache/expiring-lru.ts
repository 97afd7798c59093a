interface Entry<V> {
  value: V
  /** Milliseconds since the epoch at which the entry stops being returned. */
  expiresAt: number
}

/**
 * A bounded least-recently-used map whose entries carry their own expiry. An expired entry is
 * never returned: it is dropped when read, and the oldest entries are swept as new ones arrive.
 * Time comes from the caller, so an injected clock decides.
 */
export class ExpiringLru<V> {
  readonly #map = new Map<string, Entry<V>>()
  readonly #max: number

  constructor(maxEntries: number) {
    this.#max = maxEntries
  }

  get size(): number {
    return this.#map.size
  }

  get(key: string, now: number): V | undefined {
    const e = this.#map.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt <= now) {
      this.#map.delete(key)
      return undefined
    }
    // Move to the most recent end.
    this.#map.delete(key)
    this.#map.set(key, e)
    return e.value
  }

  set(key: string, value: V, expiresAt: number, now: number): void {
    if (expiresAt <= now) return
    this.#map.delete(key)
    this.#map.set(key, { value, expiresAt })
    for (const [k, e] of this.#map) {
      // Evict over capacity, and sweep expired entries at the old end while we are there.
      if (this.#map.size > this.#max || e.expiresAt <= now) this.#map.delete(k)
      else break
    }
  }

  delete(key: string): void {
    this.#map.delete(key)
  }
}
