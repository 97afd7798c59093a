/**
 * The platform types in the client's public signatures, so its `.d.ts` files compile in projects
 * without the DOM library (`lib: ["es2022"]`, as React Native projects have) with
 * `skipLibCheck: false`.
 *
 * Each type is the platform's own where the consumer's project declares it (the DOM library,
 * `@types/node`, React Native's globals): `fetch`, `Request`, `Response`, `URL`, `LockManager`,
 * `BroadcastChannel`, `Storage`, `IDBFactory` and `SubtleCrypto` are then exactly the real ones.
 * Where it does not, a structural type of our own describes what the client uses of it.
 */

type G = typeof globalThis

/** The parts of `Headers` the client reads. */
export interface HeadersLike {
  get(name: string): string | null
}

/** The parts of `URLSearchParams` the client uses. */
export interface SearchParamsLike {
  get(name: string): string | null
  getAll(name: string): string[]
  has(name: string): boolean
  set(name: string, value: string): void
  append(name: string, value: string): void
  toString(): string
}

/** The parts of a WHATWG `URL` the client uses. */
export interface UrlLike {
  readonly href: string
  readonly origin: string
  readonly pathname: string
  readonly search: string
  readonly hash: string
  readonly searchParams: SearchParamsLike
  toString(): string
}

/** The parts of a fetch `Request` the client uses. */
export interface RequestLike {
  readonly url: string
  readonly method: string
  readonly headers: HeadersLike
  clone(): RequestLike
}

/** The fetch options the client sends. */
export interface RequestInitLike {
  method?: string
  headers?: Record<string, string> | HeadersLike
  body?: string | null
  credentials?: 'omit' | 'same-origin' | 'include'
  signal?: unknown
}

/** The parts of a fetch `Response` the client uses. */
export interface ResponseLike {
  readonly status: number
  readonly headers: HeadersLike
  text(): Promise<string>
}

/** `URL` instances: the platform's, else `UrlLike`. */
export type PlatformURL = G extends { URL: { prototype: infer T } } ? T : UrlLike

/** What `fetch` accepts as its first argument: the platform's, else a request, a string or a URL. */
export type FetchInput = G extends { fetch(input: infer I, init?: never): unknown }
  ? I
  : RequestLike | string | UrlLike

/** The options of `fetch`: the platform's `RequestInit`, else `RequestInitLike`. */
export type FetchInit = G extends { fetch(input: never, init?: infer I): unknown }
  ? NonNullable<I>
  : RequestInitLike

/** What `fetch` resolves to: the platform's `Response`, else `ResponseLike`. */
export type FetchResponse = G extends { fetch(...a: never[]): Promise<infer R> } ? R : ResponseLike

/** A JSON Web Key (RFC 7517), as far as the client reads one. */
export interface Jwk {
  kty?: string
  crv?: string
  x?: string
  y?: string
  n?: string
  e?: string
  alg?: string
  kid?: string
  use?: string
  [member: string]: unknown
}

/** The parts of `SubtleCrypto` that `webCrypto` uses. */
export interface SubtleLike {
  digest(algorithm: 'SHA-256', data: ArrayBuffer): Promise<ArrayBuffer>
  importKey(
    format: 'jwk',
    keyData: Jwk,
    algorithm: { name: string; hash?: string; namedCurve?: string },
    extractable: boolean,
    keyUsages: readonly 'verify'[],
  ): Promise<unknown>
  verify(
    algorithm: { name: string; hash?: string; saltLength?: number },
    key: never,
    signature: ArrayBuffer,
    data: ArrayBuffer,
  ): Promise<boolean>
}

/** `crypto.subtle`: the platform's `SubtleCrypto`, else `SubtleLike`. */
export type PlatformSubtle = G extends { SubtleCrypto: { prototype: infer T } } ? T : SubtleLike

/** The parts of `navigator.locks` (Web Locks) the client uses. */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: 'exclusive' }, callback: () => Promise<T>): Promise<T>
}

/** The platform's `LockManager`, else `LockManagerLike`. */
export type PlatformLockManager = G extends { LockManager: { prototype: infer T } }
  ? T
  : LockManagerLike

/** The parts of a `BroadcastChannel` the client uses. */
export interface BroadcastChannelLike {
  onmessage: ((event: { data: unknown }) => void) | null
  postMessage(message: unknown): void
  close(): void
}

/** The platform's `BroadcastChannel` class, else a structural one. */
export type PlatformBroadcastChannel = G extends { BroadcastChannel: infer T }
  ? T
  : new (name: string) => BroadcastChannelLike

/** The parts of `localStorage` the client uses. */
export interface StorageLike {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

/** The platform's `Storage`, else `StorageLike`. */
export type PlatformStorage = G extends { Storage: { prototype: infer T } } ? T : StorageLike

/** An event listener, checked bivariantly (as DOM listeners are) so typed handlers fit. */
export type ListenerLike = { bivarianceHack(event: unknown): void }['bivarianceHack']

/** An event target as the client uses one: listeners for named events. */
export interface EventTargetLike {
  addEventListener(
    type: string,
    listener: ListenerLike,
    options?: boolean | { capture?: boolean; passive?: boolean },
  ): void
  removeEventListener(
    type: string,
    listener: ListenerLike,
    options?: boolean | { capture?: boolean },
  ): void
}

/** `IDBFactory` (`indexedDB`), as far as the client's signature is concerned. */
export interface IdbFactoryLike {
  open(name: string, version?: number): unknown
}

/** The platform's `IDBFactory`, else `IdbFactoryLike`. */
export type PlatformIDBFactory = G extends { IDBFactory: { prototype: infer T } }
  ? T
  : IdbFactoryLike
