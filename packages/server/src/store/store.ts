import type {
  AdminKeyRecord,
  AdminSessionRecord,
  ApiRecord,
  AuthorizationCodeRecord,
  BrowserSessionRecord,
  ClientRecord,
  EmailTokenPurpose,
  EmailTokenRecord,
  PasskeyRecord,
  UpstreamLinkRecord,
  DeviceKeyRecord,
  EndedSession,
  EndedSessionEvent,
  EventFilter,
  SecurityEventRecord,
  SessionEndReason,
  SessionFilter,
  SessionRecord,
  SessionState,
  SessionTaskCompletion,
  SigningKeyRecord,
  TotpRecord,
  UserFilter,
  UserRecord,
  WebhookAttemptRecord,
  WebhookDeliveryFilter,
  WebhookDeliveryRecord,
  WebhookEventType,
  WebhookMessageRecord,
  WebhookOutcome,
  WebhookSubscription,
} from './types.js'

export type CodeRedemption =
  | { ok: true }
  /** The code was already redeemed; `sessionId` is the session the first redemption made. */
  | { ok: false; reason: 'consumed'; sessionId: string | null }
  | { ok: false; reason: 'unknown' }
  /** The browser session the code was issued in has ended (signed out) since: the code is now
   * consumed without a session, and no session was created. */
  | { ok: false; reason: 'signed_out' }

/** A session ended by a bulk end, as the per-session event factory sees it. */
/** Ending every live session of a user (or client) as part of an admin write. */
export interface RevokeAll {
  reason: SessionEndReason
  now: number
  /** Makes the security event recorded, in the same transaction, for each session ended. */
  event: (s: EndedSession) => SecurityEventRecord
}

/** With `expectedUpdatedAt`, an update or replace writes only if the stored record still has that
 * `updatedAt` (compare-and-set: a record read, changed and written back never undoes a change made
 * in between, such as a password reset or a disable); otherwise the result is `changed`. */
export type UserChange =
  { create: UserRecord } | { update: UserRecord; expectedUpdatedAt?: number } | { delete: string }
export type ClientChange =
  | { create: ClientRecord }
  | { replace: ClientRecord; expectedUpdatedAt?: number }
  | { delete: string }
export type ApiChange = { create: ApiRecord } | { replace: ApiRecord } | { delete: string }

export type AdminWriteResult =
  | {
      ok: true
      /** Sessions ended by `revoke`. */
      endedSessionIds: string[]
      /** Browser (SSO) sessions ended by `revoke` of a user. */
      endedBrowserSessions: number
    }
  /** `not_found`: the update, replace or delete named nothing. `exists`: a create met an existing
   * record, or a user's username is taken (case-insensitively). `changed`: the record is no longer
   * at `expectedUpdatedAt`. Nothing was written. */
  | { ok: false; reason: 'not_found' | 'exists' | 'changed' }
  /** A client write naming audiences that are not APIs (checked inside the transaction, after
   * not_found and changed, so an API deleted meanwhile counts). Nothing was written. */
  | { ok: false; reason: 'unknown_api'; audiences: string[] }
  /** An API delete while these clients list it (checked inside the transaction, so a client
   * changed meanwhile counts). Nothing was written. */
  | { ok: false; reason: 'in_use'; clientIds: string[] }

export type RotateResult =
  | { ok: true; session: SessionRecord }
  /** Someone else rotated first, or the session is no longer active: read again and decide. */
  | { ok: false }

/** A store's connections at one moment. */
export interface PoolStats {
  /** Connections open. */
  total: number
  /** Open connections not serving a query or transaction. */
  idle: number
  /** Queries and transactions waiting for a connection. */
  waiting: number
}

/**
 * Persistence for the server. Every method is one atomic operation: a caller never sees or leaves a
 * partial write. Implementations: SQLite (embedded default) and PostgreSQL; both pass the shared
 * conformance suite in `test/store/conformance.ts`.
 *
 * Every move of a session to a terminal state (endSession, endSessions, sweepSessions) also writes
 * its webhook messages (src/webhooks/messages.ts) to the outbox in the same transaction, whoever
 * the caller is (a request, the maintenance sweep, the CLI), so no event is lost to a crash; only
 * messages of the types `recordWebhookTypes` names are written (default: all).
 */
export interface Store {
  readonly kind: 'sqlite' | 'postgres'
  /** Applies pending migrations; safe to call on every start. */
  migrate(): Promise<void>
  close(): Promise<void>
  /** Cheap liveness check of the database, for /readyz. */
  ping(): Promise<void>
  /** The connections now, for `/metrics`: open, idle, and requests waiting for one. Optional: a
   * store without it reports no pool figures. */
  poolStats?(): PoolStats
  /** Which webhook event types session ends write to the outbox from now on: the server passes
   * those its configured endpoints subscribe to (none: no message is written at all, since
   * nothing would send it). Default `all`. */
  recordWebhookTypes(types: readonly WebhookEventType[] | 'all'): void

  getClient(id: string): Promise<ClientRecord | undefined>
  listClients(): Promise<ClientRecord[]>
  upsertClient(client: ClientRecord): Promise<void>

  getApi(audience: string): Promise<ApiRecord | undefined>
  listApis(): Promise<ApiRecord[]>
  upsertApi(api: ApiRecord): Promise<void>
  /** Writes the configuration's APIs, then its clients, in one transaction (on every start), so
   * an API deleted at the same time by another instance cannot leave a configured client naming
   * it. */
  syncConfiguration(apis: readonly ApiRecord[], clients: readonly ClientRecord[]): Promise<void>

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
  /** Users ordered by lower-cased username. */
  listUsers(filter?: UserFilter): Promise<UserRecord[]>

  /**
   * An admin write to a user, all or nothing: creates, updates or deletes the user; with `revoke`,
   * also revokes every live session of the user (one `revoke.event` each), ends the user's browser
   * sessions and voids their unredeemed authorization codes; and records `events`.
   */
  writeUser(
    change: UserChange,
    opts?: { revoke?: RevokeAll; events?: SecurityEventRecord[] },
  ): Promise<AdminWriteResult>
  /** Revokes every live session, browser session and unredeemed code of a user, with their events
   * and `events`, in one transaction. */
  revokeUserSessions(
    userId: string,
    revoke: RevokeAll,
    events?: SecurityEventRecord[],
  ): Promise<{ endedSessionIds: string[]; endedBrowserSessions: number }>
  /** An admin write to a client, all or nothing; `revoke` (with a delete) revokes its sessions. */
  writeClient(
    change: ClientChange,
    opts?: { revoke?: RevokeAll; events?: SecurityEventRecord[] },
  ): Promise<AdminWriteResult>
  /** An admin write to an API with its events, all or nothing. */
  writeApi(change: ApiChange, events?: SecurityEventRecord[]): Promise<AdminWriteResult>

  createBrowserSession(s: BrowserSessionRecord): Promise<void>
  getBrowserSession(id: string): Promise<BrowserSessionRecord | undefined>
  touchBrowserSession(id: string, now: number): Promise<void>
  endBrowserSession(id: string, now: number): Promise<boolean>
  /** Ends every open browser session of the user except `exceptId`; returns the ids ended. */
  endBrowserSessions(
    filter: { userId: string; exceptId?: string | null },
    now: number,
  ): Promise<string[]>

  createCode(code: AuthorizationCodeRecord): Promise<void>
  getCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined>
  /** In one transaction: marks the code consumed if it was not, and creates `session`. */
  redeemCode(codeHash: string, now: number, session: SessionRecord): Promise<CodeRedemption>
  deleteExpiredCodes(now: number): Promise<number>

  getSession(id: string): Promise<SessionRecord | undefined>
  createSession(s: SessionRecord): Promise<void>
  /** Compare-and-set: advances the generation iff the session is active, still at
   * `expectedGeneration` and live at `now` (before its absolute end and its idle end, as
   * judgeSession decides). One row update. */
  rotateRefresh(
    id: string,
    expectedGeneration: number,
    now: number,
    /** The state the session must be in; default `active`. */
    state?: 'active' | 'pending',
  ): Promise<RotateResult>
  /** Counts a grace replay of the previous token iff the session is in `state` (default
   * `active`), still at `generation` and under `maxUses`. */
  useGrace(
    id: string,
    generation: number,
    maxUses: number,
    now: number,
    state?: 'active' | 'pending',
  ): Promise<boolean>
  /** Ends the session iff it is active or pending, recording `event` (and the webhook messages of
   * the change) in the same transaction. Returns false when it had already ended; `event` is
   * recorded then too, the messages are not. */
  endSession(
    id: string,
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
    event?: SecurityEventRecord,
    /** When the session really ended (a timeout: when its limit ran out); default `now`. The
     * webhook message is dated `now`, when the server recorded the end. */
    endedAt?: number,
    /** `always` (the default): the event is what happened (a refresh token or code presented
     * again) and is kept even when the session had ended already. `ended`: the event is the end
     * itself, kept only when this call ended the session, so an end that raced a sweep, an admin
     * or another request is recorded once. */
    eventWhen?: 'always' | 'ended',
  ): Promise<boolean>
  /** Ends every active or pending session matching the filter (which must name a session, user
   * or browser session), recording for each the event `event` builds (when given) and its webhook
   * messages, all in one transaction; returns the ids ended. Sessions that had ended already get
   * neither. */
  endSessions(
    filter: { sessionId?: string; userId?: string; browserSessionId?: string; exceptId?: string },
    state: Exclude<SessionState, 'active' | 'pending'>,
    reason: SessionEndReason,
    now: number,
    event?: EndedSessionEvent,
  ): Promise<string[]>
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>
  /** Moves the live sessions of one browser session to another (re-authentication of the same
   * user in the same browser), so a later logout of the new one ends them too. Returns how many. */
  relinkSessions(fromBrowserSessionId: string, toBrowserSessionId: string): Promise<number>
  /** Marks active sessions past their absolute lifetime `expired` and those past their idle
   * timeout `abandoned`, each with the time its lifetime actually ran out, recording for each the
   * event `event` builds (when given) and its webhook messages in the same transaction. */
  sweepSessions(
    now: number,
    event?: EndedSessionEvent,
  ): Promise<{ expired: number; abandoned: number }>

  recordEvent(e: SecurityEventRecord): Promise<void>
  listEvents(filter: EventFilter): Promise<SecurityEventRecord[]>

  /** Records the key and its event in one transaction. */
  createAdminKey(k: AdminKeyRecord, event: SecurityEventRecord): Promise<void>
  getAdminKey(id: string): Promise<AdminKeyRecord | undefined>
  getAdminKeyByHash(keyHash: string): Promise<AdminKeyRecord | undefined>
  /** Ordered by creation. */
  listAdminKeys(): Promise<AdminKeyRecord[]>
  /** Revokes the key iff it is live and ends its console sessions, with `event`, in one
   * transaction. Returns false (writing nothing) when it was unknown or revoked already. */
  revokeAdminKey(id: string, now: number, event: SecurityEventRecord): Promise<boolean>

  createAdminSession(s: AdminSessionRecord, event: SecurityEventRecord): Promise<void>
  getAdminSession(id: string): Promise<AdminSessionRecord | undefined>
  touchAdminSession(id: string, now: number): Promise<void>
  /** Ends the console session iff open, recording `event` when it did. */
  endAdminSession(id: string, now: number, event?: SecurityEventRecord): Promise<boolean>

  listSigningKeys(): Promise<SigningKeyRecord[]>
  insertSigningKey(k: SigningKeyRecord): Promise<void>
  /** Inserts `k` only when there is no signing key at all, atomically (instances starting together
   * on an empty database create one first key between them). Returns whether it was inserted. */
  insertFirstSigningKey(k: SigningKeyRecord): Promise<boolean>
  /** Sets retirement and expiry of a key. */
  updateSigningKey(kid: string, retiredAt: number | null, expiresAt: number | null): Promise<void>
  /** Replaces the key's encrypted private JWK with `next` iff it is still `expected` (a secret
   * rotation re-encrypting it; instances doing so at once write once). Returns whether it did. */
  reencryptSigningKey(kid: string, expected: string, next: string): Promise<boolean>

  /** Adds one hit to a fixed-window counter and returns the count in the window including it. */
  throttleHit(key: string, now: number, windowSeconds: number): Promise<number>
  /** The current count of a window without adding to it. */
  throttleCount(key: string, now: number, windowSeconds: number): Promise<number>
  throttleReset(key: string): Promise<void>
  /** Deletes throttle windows that started more than a day (the longest window) before `now`. */
  pruneThrottle(now: number): Promise<number>

  /** Outbox messages not yet fanned out, oldest first. */
  listWebhookMessages(limit?: number): Promise<WebhookMessageRecord[]>
  /** Takes up to `limit` outbox messages, oldest first, and turns each into one pending delivery
   * per subscribed endpoint, deleting the message, in one transaction: however many dispatchers do
   * this at once, each message is fanned out once. Returns how many messages it took. */
  fanOutWebhookMessages(
    subscriptions: readonly WebhookSubscription[],
    limit: number,
  ): Promise<number>
  /** Leases up to `limit` pending deliveries of `endpointIds` that are due at `now` and not leased
   * by anyone (or whose lease has run out) to `owner` until `leaseUntil`, by a conditional update:
   * two dispatchers never hold one delivery at once. */
  claimWebhookDeliveries(o: {
    owner: string
    endpointIds: readonly string[]
    now: number
    leaseUntil: number
    limit: number
  }): Promise<WebhookDeliveryRecord[]>
  /** Records `attempt` and, iff `owner` still holds the lease, settles the delivery: `delivered`
   * deletes it, `retry` schedules the next attempt, `failed` keeps it as failed. One transaction.
   * Returns whether the lease was still held. */
  settleWebhookDelivery(
    id: string,
    owner: string,
    attempt: WebhookAttemptRecord,
    outcome: WebhookOutcome,
  ): Promise<boolean>
  /** Gives back a delivery whose attempt was cut short by this server's shutdown, iff `owner`
   * still holds it: unleased, pending, due at `now`, its attempt count unchanged, `last_error`
   * saying why. Returns whether the lease was still held. */
  releaseWebhookDelivery(id: string, owner: string, now: number, note: string): Promise<boolean>
  listWebhookDeliveries(filter: WebhookDeliveryFilter): Promise<WebhookDeliveryRecord[]>
  /** Attempts of one delivery (or of all), oldest first. */
  listWebhookAttempts(filter: {
    deliveryId?: string
    limit?: number
  }): Promise<WebhookAttemptRecord[]>
  /** Deletes outbox messages written before `messagesBefore` (nobody fanned them out: no server
   * has webhooks configured), and deliveries and attempts older than `recordsBefore`. */
  pruneWebhooks(o: { messagesBefore: number; recordsBefore: number }): Promise<number>
  /**
   * Records an accepted DPoP proof (`key` identifies its key and `jti`) until `expiresAt`. Returns
   * false, writing nothing, when the key is already recorded and not yet expired: a replay. One
   * atomic operation, shared by every instance on the store (RFC 9449 11.1).
   */
  useDpopProof(key: string, now: number, expiresAt: number): Promise<boolean>
  /** Deletes proof records that expired before `now`; returns how many. */
  pruneDpopProofs(now: number): Promise<number>

  /** Retention, one batch per call (the caller loops and yields between batches): deletes up to
   * `limit` sessions in a terminal state that ended before `endedBefore`; returns how many. */
  deleteEndedSessions(endedBefore: number, limit: number): Promise<number>
  /** Deletes up to `limit` browser sessions over before `before` (ended, past their absolute end,
   * or last active before `before - idleMs`) that no active or pending session belongs to. */
  deleteBrowserSessions(o: { before: number; idleMs: number; limit: number }): Promise<number>
  /** Deletes up to `limit` security events recorded before `before`. */
  deleteEvents(before: number, limit: number): Promise<number>
  /** The user's TOTP authenticator, confirmed or being enrolled. */
  getTotp(userId: string): Promise<TotpRecord | undefined>
  /** Writes an unconfirmed authenticator (replacing an unconfirmed one); false, writing nothing,
   * when the user has a confirmed one. */
  beginTotp(t: TotpRecord): Promise<boolean>
  /** In one transaction: confirms the unconfirmed authenticator with secret `secretEnc` at time
   * step `step`, replaces the user's recovery codes with `recoveryCodeHashes` and records
   * `event`. False, writing nothing, when there is no such unconfirmed authenticator. */
  confirmTotp(o: {
    userId: string
    secretEnc: string
    step: number
    now: number
    recoveryCodeHashes: string[]
    event: SecurityEventRecord
  }): Promise<boolean>
  /** Compare-and-set: records `step` as the last one used iff the user's authenticator is
   * confirmed and has accepted no code of this step or a later one (RFC 6238 5.2). */
  useTotpStep(userId: string, step: number): Promise<boolean>
  /** Spends a recovery code iff it is the user's and unused. */
  useRecoveryCode(userId: string, codeHash: string, now: number): Promise<boolean>
  /** How many unused recovery codes the user has. */
  countRecoveryCodes(userId: string): Promise<number>
  /** Deletes the user's authenticator and recovery codes and records `event`, in one transaction;
   * false (no event) when the user had no authenticator. */
  resetMfa(userId: string, event: SecurityEventRecord): Promise<boolean>
  /** Completes `task` of the pending sessions of a browser session, or of a user on every browser:
   * they become `active` (with `amr` and `authTime` when given), or `pending` with `next.task` for
   * the clients of `next`, with the events `events` builds, in one transaction. Returns the ids of
   * the sessions whose task was completed. */
  completeSessionTask(
    o: SessionTaskCompletion,
    events: (sessions: { id: string; userId: string; clientId: string }[]) => SecurityEventRecord[],
  ): Promise<string[]>
  /** Records a single-use email link (by the SHA-256 of its token). */
  createEmailToken(t: EmailTokenRecord): Promise<void>
  getEmailToken(tokenHash: string): Promise<EmailTokenRecord | undefined>
  /** Marks the link used iff it has `purpose` and is unused and unexpired at `now`, atomically;
   * returns it then, else undefined (of concurrent uses, exactly one gets it). */
  useEmailToken(
    tokenHash: string,
    purpose: EmailTokenPurpose,
    now: number,
  ): Promise<EmailTokenRecord | undefined>
  /** Marks every unused link of the user and purpose used; returns how many. */
  voidEmailTokens(userId: string, purpose: EmailTokenPurpose, now: number): Promise<number>
  /** Deletes links a day past their expiry. */
  pruneEmailTokens(now: number): Promise<number>
  /** Users whose email is `email` (any case), at most 10, oldest first. */
  getUsersByEmail(email: string): Promise<UserRecord[]>
  /** A run-time setting (Admin API), or undefined when never set. */
  getSetting(key: string): Promise<string | undefined>
  /** Sets a run-time setting; null removes it. */
  putSetting(key: string, value: string | null, now: number): Promise<void>
  /** Passkeys (WebAuthn credentials). `createPasskey` records `event` in the same transaction and
   * answers false when the credential id is already registered (to anyone). */
  createPasskey(p: PasskeyRecord, event: SecurityEventRecord): Promise<boolean>
  getPasskey(id: string): Promise<PasskeyRecord | undefined>
  /** A user's passkeys, oldest first. */
  listPasskeys(userId: string): Promise<PasskeyRecord[]>
  /** Deletes one passkey of `userId` with `event`; false when the user has no such passkey. */
  deletePasskey(userId: string, id: string, event: SecurityEventRecord): Promise<boolean>
  /** After a verified assertion: the new counter, backup state and last use, written only if the
   * stored counter is still `expectedCounter` (false otherwise: a concurrent use won). */
  usePasskey(
    id: string,
    expectedCounter: number,
    use: { counter: number; backupState: boolean; now: number },
  ): Promise<boolean>
  /** Marks a WebAuthn challenge (by its hash) used until `expiresAt`; false when it already is. */
  useWebAuthnChallenge(key: string, now: number, expiresAt: number): Promise<boolean>
  pruneWebAuthnChallenges(now: number): Promise<number>
  /** The user an upstream provider's subject is linked to, if any. */
  getUpstreamLink(providerId: string, subject: string): Promise<UpstreamLinkRecord | undefined>
  /** A user's upstream links, oldest first. */
  listUpstreamLinks(userId: string): Promise<UpstreamLinkRecord[]>
  /** Stores `link` and `event` in one transaction, creating `newUser` first when given; false
   * (nothing written) when the subject is already linked or the new user's username is taken. */
  linkUpstream(
    link: UpstreamLinkRecord,
    event: SecurityEventRecord,
    newUser?: UserRecord,
  ): Promise<boolean>
  /** Device keys of native apps (biometric step-up). `createDeviceKey` records `event` in the same
   * transaction and answers false when the user already registered this key (same thumbprint). */
  createDeviceKey(k: DeviceKeyRecord, event: SecurityEventRecord): Promise<boolean>
  getDeviceKey(id: string): Promise<DeviceKeyRecord | undefined>
  /** A user's device keys, oldest first. */
  listDeviceKeys(userId: string): Promise<DeviceKeyRecord[]>
  /** Deletes one device key of `userId` with `event`; false when the user has no such key. */
  deleteDeviceKey(userId: string, id: string, event: SecurityEventRecord): Promise<boolean>
  /** After a verified step-up: the session gets `amr` and `authTime` (iff it is still active), the
   * key its last use, and `event` is recorded, in one transaction; false when the session is not
   * active any more. */
  raiseSession(
    o: { sessionId: string; amr: string[]; authTime: number; deviceKeyId: string },
    event: SecurityEventRecord,
  ): Promise<boolean>
}
