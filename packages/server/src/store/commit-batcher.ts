import type { Kysely, Transaction } from 'kysely'

interface Pending<DB> {
  run: (trx: Transaction<DB>) => Promise<unknown>
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/**
 * Group commit: writes submitted while a commit is under way are run together in the next
 * transaction, so N concurrent refreshes cost one fsync instead of N. Each caller is answered only
 * after the transaction holding its write has committed, so durability is unchanged; if the
 * transaction fails, every write in it fails (and none of them happened).
 *
 * Only for writes that are independent of each other and cannot fail on their own (conditional
 * updates whose "no row matched" is a result, not an error).
 */
export class CommitBatcher<DB> {
  readonly #db: Kysely<DB>
  readonly #maxBatch: number
  #queue: Pending<DB>[] = []
  #flushing = false

  readonly #delayMs: number

  /**
   * @param delayMs Milliseconds the first write of a batch waits for others to join (0: only those
   *   already queued on this turn of the event loop). A longer wait means fewer, larger commits.
   */
  constructor(db: Kysely<DB>, maxBatch = 256, delayMs = 0) {
    this.#db = db
    this.#maxBatch = maxBatch
    this.#delayMs = delayMs
  }

  submit<T>(run: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (v: unknown) => void, reject })
      if (!this.#flushing) {
        this.#flushing = true
        // Let the requests already being parsed on this turn of the event loop join the batch.
        if (this.#delayMs > 0) setTimeout(() => void this.#flush(), this.#delayMs)
        else setImmediate(() => void this.#flush())
      }
    })
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch)
      try {
        const results = await this.#db.transaction().execute(async (trx) => {
          const out: unknown[] = []
          for (const p of batch) out.push(await p.run(trx))
          return out
        })
        batch.forEach((p, i) => p.resolve(results[i]))
      } catch (err) {
        for (const p of batch) p.reject(err)
      }
    }
    this.#flushing = false
  }
}
