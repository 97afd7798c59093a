import type { TesseraStorage } from '@tessera/client'

/**
 * Storage whose reads wait until `open()`: the client stays `loading` for as long as a test
 * needs, by construction rather than by timing. `reads` counts the reads that reached it (so a
 * test knows the client is waiting on it), `calls` every method call.
 */
export class GatedStorage implements TesseraStorage {
  readonly #inner: TesseraStorage
  #open!: () => void
  readonly #gate: Promise<void>
  reads = 0
  calls = 0

  constructor(inner: TesseraStorage) {
    this.#inner = inner
    this.#gate = new Promise((r) => (this.#open = r))
  }

  open(): void {
    this.#open()
  }

  async get(key: string): Promise<string | null> {
    this.calls++
    this.reads++
    await this.#gate
    return this.#inner.get(key)
  }

  async set(key: string, value: string): Promise<void> {
    this.calls++
    await this.#gate
    return this.#inner.set(key, value)
  }

  async remove(key: string): Promise<void> {
    this.calls++
    await this.#gate
    return this.#inner.remove(key)
  }
}
