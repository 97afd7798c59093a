import type { TesseraConfig } from '../../config/config.js'
import { sessionDeadline } from '../../sessions/lifecycle.js'
import type {
  AdminKeyRecord,
  ApiRecord,
  ClientRecord,
  SessionRecord,
  UserRecord,
} from '../../store/types.js'

/**
 * What the Admin API, the console and the CLI show of each record: never a password hash, client
 * secret hash, key hash or refresh-token salt. Times are milliseconds since the epoch.
 */

export interface UserView {
  id: string
  username: string
  email: string | null
  /** Whether the user proved they receive mail at `email`. */
  emailVerified: boolean
  emailVerifiedAt: number | null
  name: string | null
  disabled: boolean
  metadata: Record<string, unknown>
  passwordChangedAt: number
  createdAt: number
  updatedAt: number
}

export function userView(u: UserRecord): UserView {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    emailVerified: u.emailVerifiedAt !== null,
    emailVerifiedAt: u.emailVerifiedAt,
    name: u.name,
    disabled: u.disabled,
    metadata: u.metadata,
    passwordChangedAt: u.passwordChangedAt,
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
  }
}

export interface SessionView {
  id: string
  userId: string
  clientId: string
  state: SessionRecord['state']
  reason: SessionRecord['reason']
  /** The task of a `pending` session (`setup-mfa`, `verify-email`), else null. */
  task: string | null
  createdAt: number
  lastActiveAt: number
  endedAt: number | null
  /** When the session ends if nothing else happens: the earlier of its idle and absolute end. */
  expiresAt: number
  authTime: number
  amr: string[]
  scope: string
  resources: string[]
  /** Refresh-token rotations so far. */
  generation: number
  ip: string | null
  userAgent: string | null
}

export function sessionView(s: SessionRecord): SessionView {
  return {
    id: s.id,
    userId: s.userId,
    clientId: s.clientId,
    state: s.state,
    reason: s.reason,
    task: s.task ?? null,
    createdAt: s.createdAt,
    lastActiveAt: s.lastActiveAt,
    endedAt: s.endedAt,
    expiresAt: sessionDeadline(s),
    authTime: s.authTime,
    amr: s.amr,
    scope: s.scope,
    resources: s.resources,
    generation: s.generation,
    ip: s.ip,
    userAgent: s.userAgent,
  }
}

/** `config`: declared in the configuration file, re-written on every start, read-only here. */
export type ManagedBy = 'config' | 'admin'

export type ClientView = Omit<ClientRecord, 'secretHash'> & {
  confidential: boolean
  managedBy: ManagedBy
}

export function clientView(c: ClientRecord, config: TesseraConfig): ClientView {
  const { secretHash, ...rest } = c
  return {
    ...rest,
    confidential: secretHash !== null,
    managedBy: config.clients.some((x) => x.id === c.id) ? 'config' : 'admin',
  }
}

export type ApiView = ApiRecord & { managedBy: ManagedBy }

export function apiView(a: ApiRecord, config: TesseraConfig): ApiView {
  return {
    ...a,
    managedBy: config.apis.some((x) => x.audience === a.audience) ? 'config' : 'admin',
  }
}

export type AdminKeyView = Omit<AdminKeyRecord, 'keyHash'>

export function adminKeyView(k: AdminKeyRecord): AdminKeyView {
  return { id: k.id, name: k.name, createdAt: k.createdAt, revokedAt: k.revokedAt }
}
