import { isIP } from 'node:net'

/**
 * The WebAuthn relying party of this server, derived from the issuer: the RP ID is the issuer's
 * host name (no port, no scheme) and the only accepted origin is the issuer's origin. WebAuthn
 * requires a domain as RP ID (W3C WebAuthn Level 3 §5.1.4.1 with the HTML "valid domain"), so an
 * issuer on an IP literal (`http://127.0.0.1:3000`) has no relying party and no passkeys; use a
 * name (`http://localhost:3000` in development).
 *
 * @see https://www.w3.org/TR/webauthn-3/#rp-id
 */
export interface RelyingParty {
  /** The RP ID: the issuer's host name. */
  id: string
  /** The expected origin of every ceremony: the issuer's origin. */
  origin: string
  /** Shown by authenticators next to the passkey: the RP ID. */
  name: string
}

export function relyingParty(issuer: string): RelyingParty | undefined {
  const u = new URL(issuer)
  const host = u.hostname
  if (host.startsWith('[') || isIP(host) !== 0) return undefined
  return { id: host, origin: u.origin, name: host }
}
