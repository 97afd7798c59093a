/**
 * The JWS algorithms a DPoP proof may be signed with: asymmetric only, never `none` or HMAC
 * (RFC 9449 4.3 step 5). The same set `@tessera/verify` accepts, so a key a client uses at the
 * token endpoint also works at every Tessera-protected API. `Ed25519` is the fully-specified
 * name of EdDSA over Ed25519 (RFC 9864), which oauth4webapi and other current clients write.
 */
export const DPOP_ALGORITHMS = ['ES256', 'EdDSA', 'Ed25519', 'RS256', 'PS256'] as const

export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number]

export function isDpopAlgorithm(alg: unknown): alg is DpopAlgorithm {
  return (DPOP_ALGORITHMS as readonly unknown[]).includes(alg)
}
