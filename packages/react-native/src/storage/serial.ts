/**
 * Runs async operations one after another per name: writes to one record never interleave, and
 * they apply in call order. Shared by every adapter instance over the same native module, so two
 * instances cannot interleave either.
 */
export class SerialQueues {
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T>(name: string, op: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(name) ?? Promise.resolve()
    const next = prev.then(op, op)
    const tail = next.catch(() => {})
    this.#tails.set(name, tail)
    void tail.then(() => {
      if (this.#tails.get(name) === tail) this.#tails.delete(name)
    })
    return next
  }
}

const byModule = new WeakMap<object, SerialQueues>()

/** The queues of one native module object. */
export function queuesFor(module: object): SerialQueues {
  let q = byModule.get(module)
  if (!q) {
    q = new SerialQueues()
    byModule.set(module, q)
  }
  return q
}
