import { createHash } from 'node:crypto'

/** The members RFC 7638 3.2 hashes, per key type, in lexicographic order. */
const REQUIRED: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
}

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK, base64url: what `cnf.jkt` holds (RFC 9449
 * 6.1). Undefined for a key type or member set it does not cover.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const members = typeof jwk.kty === 'string' ? REQUIRED[jwk.kty] : undefined
  if (!members) return undefined
  const parts: string[] = []
  for (const m of members) {
    const v = jwk[m]
    if (typeof v !== 'string') return undefined
    parts.push(`${JSON.stringify(m)}:${JSON.stringify(v)}`)
  }
  return createHash('sha256')
    .update(`{${parts.join(',')}}`)
    .digest('base64url')
}
