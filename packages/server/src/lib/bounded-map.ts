/**
 * A Map that keeps at most `max` entries: setting a new key when it is full drops the oldest
 * entry (insertion order), and setting a key again makes it the newest. The caches of the server
 * (prepared statements, client and API records, throttle counts, session facts) are bounded by it,
 * so a stream of distinct keys can never grow memory.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly max: number

  constructor(max: number) {
    super()
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a whole number >= 1')
    this.max = max
  }

  override set(key: K, value: V): this {
    if (this.has(key)) this.delete(key)
    else if (this.size >= this.max) this.delete(this.keys().next().value as K)
    return super.set(key, value)
  }
}
