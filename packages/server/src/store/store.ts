import type {
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  EventFilter,
  SecurityEventRecord,
  SessionEndReason,
  SessionFilter,
  SessionRecord,
  SessionState,
  SigningKeyRecord,
  UserRecord,
} from './types.js'

export type CodeRedemption =
  | { ok: true }
  /** The code was already redeemed; `sessionId` is the session the first redemption made. */
  | { ok: false; reason: 'consumed'; sessionId: string | null }
  | { ok: false; reason: 'unknown' }

export type RotateResult =
  | { ok: true; session: SessionRecord }
  /** Someone else rotated first, or the session is no longer active: read again and decide. */
  | { ok: false }

/**
 * Persistence for the server. Every method is one atomic operation: a caller never sees or leaves a
 * partial write. Implementations: SQLite (embedded default) and PostgreSQL; both pass the shared
 * conformance suite in `test/store/conformance.ts`.
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>
  close(): Promise<void>
  /** Cheap liveness check of the database, for /readyz. */
  ping(): Promise<void>

  getClient(id: string): Promise<ClientRecord | undefined>
  listClients(): Promise<ClientRecord[]>
  upsertClient(client: ClientRecord): Promise<void>
  deleteClient(id: string): Promise<boolean>

  getApi(audience: string): Promise<ApiRecord | undefined>
  listApis(): Promise<ApiRecord[]>
  upsertApi(api: ApiRecord): Promise<void>
  deleteApi(audience: string): Promise<boolean>

  /**
   * With `maxStaleMs`, a record this store read at most that many milliseconds ago may be returned
   * instead of a fresh read (this store's own writes to the user drop it at once; another
   * instance's show within `maxStaleMs`). Only for reads whose staleness is harmless: never for a
   * read-modify-write. Default: always a fresh read.
   */
  getUser(id: string, opts?: { maxStaleMs?: number }): Promise<UserRecord | undefined>
  /** Case-insensitive on username. */
  getUserByUsername(username: string): Promise<UserRecord | undefined>
  createUser(user: UserRecord): Promise<void>
  updateUser(user: UserRecord): Promise<void>
  deleteUser(id: string): Promise<boolean>
  listUsers(limit?: number): Promise<UserRecord[]>

  createBrowserSession(s: BrowserSessionRecord): Promise<void>
  getBrowserSession(id: string): Promise<BrowserSessionRecord | undefined>
  touchBrowserSession(id: string, now: number): Promise<void>
  endBrowserSession(id: string, now: number): Promise<boolean>

  createCode(code: AuthorizationCodeRecord): Promise<void>
  getCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined>
  /** In one transaction: marks the code consumed if it was not, and creates `session`. */
  redeemCode(codeHash: string, now: number, session: SessionRecord): Promise<CodeRedemption>
  deleteExpiredCodes(now: number): Promise<number>

  getSession(id: string): Promise<SessionRecord | undefined>
  createSession(s: SessionRecord): Promise<void>
  /** Compare-and-set: advances the generation iff the session is active and still at
   * `expectedGeneration`. One row update. */
  rotateRefresh(id: string, expectedGeneration: number, now: number): Promise<RotateResult>
  /** Counts a grace replay of the previous token iff the session is active, still at `generation`
   * and under `maxUses`. */
  useGrace(id: string, generation: number, maxUses: number, now: number): Promise<boolean>
  /** Ends the session iff it is active or pending, recording `event` in the same transaction.
   * Returns false when it had already ended. */
  endSession(
    id: string,
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
    event?: SecurityEventRecord,
  ): Promise<boolean>
  /** Ends every active session matching the filter; returns the ids ended. */
  endSessions(
    filter: { userId?: string; browserSessionId?: string; exceptId?: string },
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
  ): Promise<string[]>
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>
  /** Moves the live sessions of one browser session to another (re-authentication of the same
   * user in the same browser), so a later logout of the new one ends them too. Returns how many. */
  relinkSessions(fromBrowserSessionId: string, toBrowserSessionId: string): Promise<number>
  /** Marks active sessions past their absolute lifetime `expired` and those past their idle
   * timeout `abandoned`, each with the time its lifetime actually ran out. */
  sweepSessions(now: number): Promise<{ expired: number; abandoned: number }>

  recordEvent(e: SecurityEventRecord): Promise<void>
  listEvents(filter: EventFilter): Promise<SecurityEventRecord[]>

  listSigningKeys(): Promise<SigningKeyRecord[]>
  insertSigningKey(k: SigningKeyRecord): Promise<void>
  /** Sets retirement and expiry of a key. */
  updateSigningKey(kid: string, retiredAt: number | null, expiresAt: number | null): Promise<void>

  /** Adds one hit to a fixed-window counter and returns the count in the window including it. */
  throttleHit(key: string, now: number, windowSeconds: number): Promise<number>
  /** The current count of a window without adding to it. */
  throttleCount(key: string, now: number, windowSeconds: number): Promise<number>
  throttleReset(key: string): Promise<void>
  /** Deletes throttle windows that started more than a day (the longest window) before `now`. */
  pruneThrottle(now: number): Promise<number>

  /**
   * Records an accepted DPoP proof (`key` identifies its key and `jti`) until `expiresAt`. Returns
   * false, writing nothing, when the key is already recorded and not yet expired: a replay. One
   * atomic operation, shared by every instance on the store (RFC 9449 11.1).
   */
  useDpopProof(key: string, now: number, expiresAt: number): Promise<boolean>
  /** Deletes proof records that expired before `now`; returns how many. */
  pruneDpopProofs(now: number): Promise<number>
}
