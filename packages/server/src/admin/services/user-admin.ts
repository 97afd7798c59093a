import { Conflict, InvalidRequest, NotFound } from '../../oauth/errors.js'
import type { RevokeAll } from '../../store/store.js'
import type { SessionEndReason, UserRecord } from '../../store/types.js'
import {
  checkPassword,
  newUserRecord,
  UserInputError,
  type NewUser,
} from '../../users/create-user.js'
import { hashPassword } from '../../users/password.js'
import { adminEvent, revocation, type Actor, type AdminDeps } from '../actor.js'
import { decodeCursor, encodeCursor, PAGE, type Page } from './cursor.js'
import { checkEmail, checkMetadata, checkName, USER_LIMITS } from './user-fields.js'
import { userView, type UserView } from './views.js'

export interface UserPatch {
  email?: string | null
  name?: string | null
  /** Replaces the whole metadata object. */
  metadata?: Record<string, unknown>
}

/** What an action that ends sign-ins did. */
export interface RevocationSummary {
  sessionsRevoked: number
  browserSessionsEnded: number
}

/**
 * Users, for the Admin API, the console and the CLI. Every change is one store transaction with its
 * security events; disabling, deleting and a password reset also revoke every session, browser
 * (SSO) session and unredeemed code of the user (SES-05, SES-06).
 */
/** What the Admin API shows of a user's second factors. */
export interface MfaView {
  userId: string
  /** The TOTP authenticator, or null; `confirmed` false while the user is enrolling. */
  totp: { confirmed: boolean; createdAt: number; confirmedAt: number | null } | null
  recoveryCodesLeft: number
}

export class UserAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(
    q: {
      search?: string | undefined
      limit?: number | undefined
      cursor?: string | undefined
    } = {},
  ): Promise<Page<UserView>> {
    const limit = q.limit ?? PAGE.default
    if (q.search !== undefined && q.search.length > USER_LIMITS.search) {
      throw new InvalidRequest(`search: must be at most ${USER_LIMITS.search} characters`)
    }
    const after =
      q.cursor === undefined ? undefined : decodeCursor('users', q.cursor, ['string'] as const)[0]
    const rows = await this.#d.store.listUsers({
      ...(q.search !== undefined ? { search: q.search } : {}),
      ...(after !== undefined ? { afterUsername: after } : {}),
      limit: limit + 1,
    })
    const items = rows.slice(0, limit)
    const last = items[items.length - 1]
    return {
      items: items.map(userView),
      nextCursor:
        rows.length > limit && last ? encodeCursor('users', [last.username.toLowerCase()]) : null,
    }
  }

  /** A user by id; with `byUsername`, a reference that is no user id is tried as a username. */
  async find(ref: string, byUsername = false): Promise<UserRecord> {
    const user =
      (await this.#d.store.getUser(ref)) ??
      (byUsername ? await this.#d.store.getUserByUsername(ref) : undefined)
    if (!user) throw new NotFound(`no user ${ref}`)
    return user
  }

  async get(ref: string, byUsername = false): Promise<UserView> {
    return userView(await this.find(ref, byUsername))
  }

  /** The user's second factors: never the secret or the codes, only their state. */
  async mfa(ref: string, byUsername = false): Promise<MfaView> {
    const user = await this.find(ref, byUsername)
    const totp = await this.#d.store.getTotp(user.id)
    return {
      userId: user.id,
      totp: totp
        ? {
            confirmed: totp.confirmedAt !== null,
            createdAt: totp.createdAt,
            confirmedAt: totp.confirmedAt,
          }
        : null,
      recoveryCodesLeft: await this.#d.store.countRecoveryCodes(user.id),
    }
  }

  /**
   * Admin reset of the second factor (a lost phone): deletes the user's authenticator and recovery
   * codes, with an `mfa_reset` event. Sessions are left alone; the next sign-in to a client that
   * requires MFA is `pending` with the task `setup-mfa`. 404 when the user has none.
   */
  async resetMfa(actor: Actor, ref: string, byUsername = false): Promise<MfaView> {
    const user = await this.find(ref, byUsername)
    const event = adminEvent(this.#d, actor, 'mfa_reset', { userId: user.id })
    if (!(await this.#d.store.resetMfa(user.id, event))) {
      throw new NotFound(`user ${user.id} has no authenticator`)
    }
    return this.mfa(user.id)
  }

  async create(actor: Actor, input: NewUser): Promise<UserView> {
    const fields = {
      email: checkEmail(input.email ?? null),
      name: checkName(input.name ?? null),
      metadata: checkMetadata(input.metadata ?? {}),
    }
    let user: UserRecord
    try {
      user = await newUserRecord(this.#deps(), { ...input, ...fields })
    } catch (err) {
      if (err instanceof UserInputError) throw new InvalidRequest(err.message)
      throw err
    }
    const r = await this.#d.store.writeUser(
      { create: user },
      {
        events: [
          adminEvent(
            this.#d,
            actor,
            'user_created',
            { userId: user.id },
            {
              username: user.username,
            },
          ),
        ],
      },
    )
    if (!r.ok) throw new Conflict('username is taken')
    return userView(user)
  }

  async update(actor: Actor, ref: string, patch: UserPatch, byUsername = false): Promise<UserView> {
    const user = await this.find(ref, byUsername)
    const next: UserRecord = { ...user, updatedAt: this.#d.clock.now() }
    const changed: string[] = []
    if (patch.email !== undefined) {
      next.email = checkEmail(patch.email)
      // A new address is unproven; the same address (any case) keeps its verification.
      if (next.email?.toLowerCase() !== user.email?.toLowerCase()) next.emailVerifiedAt = null
      changed.push('email')
    }
    if (patch.name !== undefined) {
      next.name = checkName(patch.name)
      changed.push('name')
    }
    if (patch.metadata !== undefined) {
      next.metadata = checkMetadata(patch.metadata)
      changed.push('metadata')
    }
    if (changed.length === 0)
      throw new InvalidRequest('nothing to change: give email, name or metadata')
    await this.#write(user, next, undefined, [
      adminEvent(this.#d, actor, 'user_updated', { userId: user.id }, { fields: changed }),
    ])
    return userView(next)
  }

  /** Disables the user and revokes everything they are signed in with (SES-06). */
  async disable(
    actor: Actor,
    ref: string,
    byUsername = false,
  ): Promise<{ user: UserView } & RevocationSummary> {
    const user = await this.find(ref, byUsername)
    if (user.disabled) throw new Conflict(`user ${user.id} is already disabled`)
    const next = { ...user, disabled: true, updatedAt: this.#d.clock.now() }
    const summary = await this.#write(user, next, this.#revoke(actor, 'user_disabled'), [
      adminEvent(this.#d, actor, 'user_disabled', { userId: user.id }),
    ])
    return { user: userView(next), ...summary }
  }

  async enable(actor: Actor, ref: string, byUsername = false): Promise<UserView> {
    const user = await this.find(ref, byUsername)
    if (!user.disabled) throw new Conflict(`user ${user.id} is not disabled`)
    const next = { ...user, disabled: false, updatedAt: this.#d.clock.now() }
    await this.#write(user, next, undefined, [
      adminEvent(this.#d, actor, 'user_enabled', { userId: user.id }),
    ])
    return userView(next)
  }

  /** Deletes the user after revoking everything they are signed in with (SES-06). Their sessions
   * and events stay, for the audit trail. */
  async delete(
    actor: Actor,
    ref: string,
    byUsername = false,
  ): Promise<{ id: string; username: string } & RevocationSummary> {
    const user = await this.find(ref, byUsername)
    const r = await this.#d.store.writeUser(
      { delete: user.id },
      {
        revoke: this.#revoke(actor, 'user_deleted'),
        events: [
          adminEvent(
            this.#d,
            actor,
            'user_deleted',
            { userId: user.id },
            {
              username: user.username,
            },
          ),
        ],
      },
    )
    if (!r.ok) throw new NotFound(`no user ${user.id}`)
    return {
      id: user.id,
      username: user.username,
      sessionsRevoked: r.endedSessionIds.length,
      browserSessionsEnded: r.endedBrowserSessions,
    }
  }

  /** Sets a new password and revokes every session of the user (SES-05): whoever knew the old
   * password is signed out everywhere. */
  async setPassword(
    actor: Actor,
    ref: string,
    password: string,
    byUsername = false,
  ): Promise<{ user: UserView } & RevocationSummary> {
    try {
      checkPassword(password)
    } catch (err) {
      if (err instanceof UserInputError) throw new InvalidRequest(err.message)
      throw err
    }
    const user = await this.find(ref, byUsername)
    const now = this.#d.clock.now()
    const next: UserRecord = {
      ...user,
      passwordHash: await hashPassword(password, this.#d.config.passwordCost),
      passwordChangedAt: now,
      updatedAt: now,
    }
    const summary = await this.#write(user, next, this.#revoke(actor, 'password_change'), [
      adminEvent(this.#d, actor, 'password_changed', { userId: user.id }),
    ])
    return { user: userView(next), ...summary }
  }

  /** Revokes every session, browser session and unredeemed code of the user ("sign out
   * everywhere"); the account stays usable. */
  async revokeSessions(actor: Actor, ref: string, byUsername = false): Promise<RevocationSummary> {
    const user = await this.find(ref, byUsername)
    const r = await this.#d.store.revokeUserSessions(user.id, this.#revoke(actor, 'admin'), [
      adminEvent(this.#d, actor, 'user_sessions_revoked', { userId: user.id }),
    ])
    return {
      sessionsRevoked: r.endedSessionIds.length,
      browserSessionsEnded: r.endedBrowserSessions,
    }
  }

  #revoke(actor: Actor, reason: SessionEndReason): RevokeAll {
    return revocation(this.#d, actor, reason)
  }

  /** Writes `user` over `previous` iff nobody changed the user since `previous` was read. */
  async #write(
    previous: UserRecord,
    user: UserRecord,
    revoke: RevokeAll | undefined,
    events: ReturnType<typeof adminEvent>[],
  ): Promise<RevocationSummary> {
    const r = await this.#d.store.writeUser(
      { update: user, expectedUpdatedAt: previous.updatedAt },
      { ...(revoke ? { revoke } : {}), events },
    )
    if (!r.ok) {
      if (r.reason === 'exists') throw new Conflict('username is taken')
      if (r.reason === 'changed') {
        throw new Conflict(`user ${user.id} was changed meanwhile; read it again and retry`)
      }
      throw new NotFound(`no user ${user.id}`)
    }
    return {
      sessionsRevoked: r.endedSessionIds.length,
      browserSessionsEnded: r.endedBrowserSessions,
    }
  }

  #deps() {
    return {
      clock: this.#d.clock,
      random: this.#d.random,
      passwordCost: this.#d.config.passwordCost,
    }
  }
}
