import { INITIAL_SNAPSHOT, type SessionSnapshot, type TesseraClient } from '@tessera/client'
import { sameValue } from './same-value.js'

/**
 * The snapshot of the server render and of hydration: not loaded, no session. It never reads the
 * client, so the server touches no storage and the first client render matches the HTML.
 */
export const SERVER_SNAPSHOT: SessionSnapshot = INITIAL_SNAPSHOT

/**
 * A view of the client's snapshot that changes only when the fields it picks change (by value),
 * so the components reading it re-render once per change that concerns them, not for every
 * refresh. One instance per client is shared by every component, so all of them see the very
 * same object: the shape `useSyncExternalStore` wants.
 */
export class DerivedStore<T extends object> {
  readonly #client: TesseraClient
  readonly #select: (s: SessionSnapshot) => T
  readonly server: T
  #source: SessionSnapshot | undefined
  #value: T | undefined

  constructor(client: TesseraClient, select: (s: SessionSnapshot) => T) {
    this.#client = client
    this.#select = select
    this.server = Object.freeze(select(SERVER_SNAPSHOT))
  }

  subscribe = (listener: () => void): (() => void) => this.#client.subscribe(listener)

  get = (): T => {
    const source = this.#client.getSnapshot()
    if (source === this.#source && this.#value !== undefined) return this.#value
    const next = this.#select(source)
    this.#source = source
    this.#value = this.#value === undefined ? Object.freeze(next) : keepSame(this.#value, next)
    return this.#value
  }

  getServer = (): T => this.server
}

/** `prev` when no field changed; else `next` holding `prev`'s values for the unchanged fields. */
function keepSame<T extends object>(prev: T, next: T): T {
  let changed = false
  for (const k of Object.keys(next) as (keyof T)[]) {
    if (sameValue(prev[k], next[k])) next[k] = prev[k]
    else changed = true
  }
  return changed ? Object.freeze(next) : prev
}
