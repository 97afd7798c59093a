import { TesseraClientError } from '../errors.js'
import type { FetchLike, HttpContext } from '../http/http.js'
import { systemClock, type Clock } from '../lib/clock.js'
import { checkUrlSupport } from '../lib/platform.js'
import { ServerTime } from '../lib/server-time.js'
import { memoryStorage, type TesseraStorage } from '../storage/storage.js'
import { localTabSync, type TabSync } from '../tabs/tab-sync.js'
import type { DpopAgent } from '../dpop/dpop-binding.js'
import { validateOptions, type ResolvedApi, type TesseraClientOptions } from './options.js'

/** The message of the `network` error while the lifecycle says the device is offline. */
export const DEVICE_OFFLINE = 'the device is offline'

/**
 * What every piece of the client shares: the validated options and the platform (clock, server
 * time, storage, tabs, HTTP). Built once, read-only; nothing here holds session state.
 */
export interface Environment {
  readonly options: TesseraClientOptions
  readonly apis: readonly ResolvedApi[]
  readonly issuer: string
  readonly clientId: string
  readonly clock: Clock
  /** The server's clock as measured from its responses. */
  readonly time: ServerTime
  /** Uniform random numbers for jitter (never for secrets). */
  readonly random: () => number
  readonly storage: TesseraStorage
  readonly tabs: TabSync
  readonly fetch: FetchLike
  readonly http: HttpContext
  /** Requests to the token endpoint: with DPoP proofs when `dpop` is on. */
  readonly tokenHttp: HttpContext
  /** Sends requests that carry a token or go to the token endpoint: the DPoP agent's `send`
   * when `dpop` is on, else `fetch`. */
  readonly send: FetchLike
  readonly dpop: DpopAgent | undefined
  /** The refresh token lives in the server's HttpOnly cookie: this client never holds it. */
  readonly cookie: boolean
  readonly sessionKey: string
  readonly txKey: string
  readonly lockName: string
  readonly skewMs: number
}

/** Checks the options and the platform, and fills in defaults. Throws `configuration` errors. */
export function createEnvironment(options: TesseraClientOptions): Environment {
  checkUrlSupport()
  const apis = validateOptions(options)
  const clock = options.clock ?? systemClock
  const f = options.fetch ?? globalThis.fetch
  if (typeof f !== 'function') {
    throw new TesseraClientError('configuration', 'no fetch on this platform: pass `fetch`')
  }
  const fetch: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  const prefix = `${options.storageKeyPrefix ?? 'tessera'}.${options.clientId}`
  const time = new ServerTime(clock)
  const http: HttpContext = { fetch, clock, timeoutMs: options.requestTimeoutMs ?? 30_000 }
  const dpop = options.dpop?.forClient(options, fetch, time)
  const send = dpop?.send ?? fetch
  return {
    options,
    apis,
    issuer: options.issuer,
    clientId: options.clientId,
    clock,
    time,
    random: options.random ?? Math.random,
    storage: options.storage ?? memoryStorage(),
    tabs: options.tabs ?? localTabSync(),
    fetch,
    http,
    tokenHttp: { ...http, fetch: send },
    send,
    dpop,
    cookie: options.refreshTokenDelivery === 'cookie',
    sessionKey: `${prefix}.session`,
    txKey: `${prefix}.transactions`,
    lockName: `refresh:${options.clientId}`,
    skewMs: (options.skewSeconds ?? 30) * 1000,
  }
}
