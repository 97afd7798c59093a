import type {
  EventTargetLike,
  PlatformBroadcastChannel,
  PlatformLockManager,
  PlatformStorage,
} from '../platform-types.js'
/**
 * Coordination between the JS contexts that share one storage: the tabs and frames of an origin.
 * The client refreshes inside `withLock`, so one context refreshes while the others wait and then
 * find the new tokens in storage; `post` tells the others that tokens changed or that the user
 * signed out. Messages never carry tokens: the others read storage.
 */
export interface TabSync {
  /** Runs `fn` while holding the exclusive lock `name` across every context of the origin. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>
  post(message: TabMessage): void
  subscribe(listener: (message: TabMessage) => void): () => void
  close(): void
}

export type TabMessage =
  { type: 'tokens-updated' } | { type: 'signed-in' } | { type: 'signed-out'; reason: string }

/**
 * One JS context (Node, React Native, a single window): an in-memory mutex and no messages. Pass
 * the same instance to several clients that share one storage in one context.
 */
export function localTabSync(): TabSync {
  const tails = new Map<string, Promise<void>>()
  return {
    async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const prev = tails.get(name) ?? Promise.resolve()
      let release!: () => void
      const mine = new Promise<void>((r) => (release = r))
      const tail = prev.then(() => mine)
      tails.set(name, tail)
      await prev
      try {
        return await fn()
      } finally {
        release()
        if (tails.get(name) === tail) tails.delete(name)
      }
    },
    post() {},
    subscribe: () => () => {},
    close() {},
  }
}

/** The parts of the browser `browserTabSync` uses; each may be missing. */
export interface BrowserTabSyncEnvironment {
  locks?: PlatformLockManager | undefined
  BroadcastChannel?: PlatformBroadcastChannel | undefined
  localStorage?: PlatformStorage | undefined
  addEventListener?: EventTargetLike['addEventListener']
  removeEventListener?: EventTargetLike['removeEventListener']
  random?: () => number
}

export interface BrowserTabSyncOptions {
  /** Prefix of the channel, lock and localStorage key names. Default `tessera`. */
  name?: string
  /** Milliseconds a fallback (localStorage) lock is held at most if its tab hangs. A tab that
   * unloads releases it at once (`pagehide`). Default 35000 (longer than a token request). */
  leaseMs?: number
  environment?: BrowserTabSyncEnvironment
}

function defaultEnvironment(): BrowserTabSyncEnvironment {
  const g = globalThis as typeof globalThis & { navigator?: Navigator; localStorage?: Storage }
  let ls: Storage | undefined
  try {
    ls = g.localStorage
  } catch {
    ls = undefined
  }
  return {
    locks: g.navigator?.locks,
    BroadcastChannel: g.BroadcastChannel,
    localStorage: ls,
    addEventListener: g.addEventListener?.bind(g),
    removeEventListener: g.removeEventListener?.bind(g),
  }
}

/**
 * Tabs of one origin: Web Locks for the refresh lock and BroadcastChannel for messages. Where Web
 * Locks or BroadcastChannel are missing, a lease in `localStorage` and `storage` events stand in
 * (they hold lock names and message types only, never a token).
 *
 * @example
 * const client = createTesseraClient({ ..., tabs: browserTabSync() })
 * @see https://developer.mozilla.org/en-US/docs/Web/API/Web_Locks_API
 */
export function browserTabSync(o: BrowserTabSyncOptions = {}): TabSync {
  const env = o.environment ?? defaultEnvironment()
  const prefix = o.name ?? 'tessera'
  const leaseMs = o.leaseMs ?? 35_000
  const random = env.random ?? Math.random
  const self = Math.floor(random() * 2 ** 52).toString(36) + Date.now().toString(36)
  const listeners = new Set<(m: TabMessage) => void>()
  const deliver = (m: unknown) => {
    if (!isMessage(m)) return
    for (const l of listeners) l(m)
  }
  const local = localTabSync()

  const channel = env.BroadcastChannel ? new env.BroadcastChannel(`${prefix}:tabs`) : undefined
  if (channel) channel.onmessage = (e: MessageEvent) => deliver(e.data)

  const msgKey = `${prefix}:message`
  const waiters = new Set<() => void>()
  const onStorage = (e: StorageEvent) => {
    if (e.key === null || !e.key.startsWith(prefix + ':')) return
    if (e.key === msgKey && !channel && e.newValue) {
      try {
        deliver((JSON.parse(e.newValue) as { m: unknown }).m)
      } catch {
        // Not ours.
      }
    }
    for (const w of [...waiters]) w()
  }
  env.addEventListener?.('storage', onStorage)
  const held = new Set<string>()
  const releaseHeld = () => {
    for (const key of held) {
      try {
        const v = env.localStorage?.getItem(key)
        if (v && (JSON.parse(v) as { owner?: string }).owner === self)
          env.localStorage?.removeItem(key)
      } catch {
        // Nothing to release.
      }
    }
    held.clear()
  }
  env.addEventListener?.('pagehide', releaseHeld)

  const leaseLock = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const ls = env.localStorage
    if (!ls) return fn()
    const key = `${prefix}:lock:${name}`
    const read = (): { owner: string; until: number } | undefined => {
      try {
        const v = ls.getItem(key)
        return v ? (JSON.parse(v) as { owner: string; until: number }) : undefined
      } catch {
        return undefined
      }
    }
    for (;;) {
      const cur = read()
      if (!cur || cur.until < Date.now() || cur.owner === self) {
        ls.setItem(key, JSON.stringify({ owner: self, until: Date.now() + leaseMs }))
        // Two tabs may write at once: wait a moment and see whose write stayed.
        await new Promise((r) => setTimeout(r, 30 + Math.floor(random() * 30)))
        if (read()?.owner === self) break
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done)
          clearTimeout(t)
          resolve()
        }
        const t = setTimeout(done, 100 + Math.floor(random() * 100))
        waiters.add(done)
      })
    }
    held.add(key)
    try {
      return await fn()
    } finally {
      held.delete(key)
      if (read()?.owner === self) ls.removeItem(key)
    }
  }

  return {
    withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const lockName = `${prefix}:${name}`
      if (env.locks) return env.locks.request(lockName, { mode: 'exclusive' }, fn) as Promise<T>
      // Serialise this tab's own callers first, then compete with the other tabs.
      return local.withLock(lockName, () => leaseLock(name, fn))
    },
    post(message) {
      if (channel) {
        channel.postMessage(message)
        return
      }
      try {
        env.localStorage?.setItem(msgKey, JSON.stringify({ m: message, n: random() }))
        env.localStorage?.removeItem(msgKey)
      } catch {
        // Storage full or denied: the other tabs will notice at their next storage read.
      }
    },
    subscribe(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    close() {
      channel?.close()
      env.removeEventListener?.('storage', onStorage)
      env.removeEventListener?.('pagehide', releaseHeld)
      releaseHeld()
      listeners.clear()
    },
  }
}

function isMessage(m: unknown): m is TabMessage {
  if (typeof m !== 'object' || m === null) return false
  const t = (m as { type?: unknown }).type
  if (t === 'signed-out') return typeof (m as { reason?: unknown }).reason === 'string'
  return t === 'tokens-updated' || t === 'signed-in'
}
