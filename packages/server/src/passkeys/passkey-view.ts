import type { PasskeyRecord } from '../store/types.js'

/** A passkey as the account API shows it to its owner (no public key). Times are ISO 8601. */
export interface PasskeyView {
  id: string
  name: string
  /** Transport hints the authenticator gave at registration. */
  transports: string[]
  /** The passkey may be synced to other devices (WebAuthn BE flag). */
  backup_eligible: boolean
  /** The passkey was backed up at its last use (WebAuthn BS flag). */
  backed_up: boolean
  created_at: string
  last_used_at: string | null
}

const iso = (ms: number): string => new Date(ms).toISOString()

export function passkeyView(p: PasskeyRecord): PasskeyView {
  return {
    id: p.id,
    name: p.name,
    transports: p.transports,
    backup_eligible: p.backupEligible,
    backed_up: p.backupState,
    created_at: iso(p.createdAt),
    last_used_at: p.lastUsedAt === null ? null : iso(p.lastUsedAt),
  }
}
