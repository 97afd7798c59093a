import { TesseraVerifyError } from '../errors.js'

/** The protected header fields the verifier reads; every other member is ignored (jku, x5u,
 * jwk, x5c included: keys come only from the configured JWKS). */
export interface JwsHeader {
  readonly alg?: unknown
  readonly kid?: unknown
  readonly typ?: unknown
  readonly crit?: unknown
  readonly [member: string]: unknown
}

/** A compact JWS split into its parts; the payload stays encoded until the signature holds. */
export interface DecodedJws {
  header: JwsHeader
  /** Index of the second dot: `token.slice(0, signingInputEnd)` is the JWS signing input. */
  signingInputEnd: number
  payloadStart: number
  signature: Buffer
}

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/

function malformed(reason: string): TesseraVerifyError {
  return new TesseraVerifyError('token_malformed', `the token is malformed: ${reason}`)
}

/** Parses a base64url JSON segment into a plain object. */
export function decodeJsonSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'))
  } catch {
    throw malformed(`the ${what} is not base64url-encoded JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Splits a compact JWS (RFC 7515 7.1) and decodes its header. Five-part tokens (JWE) are refused:
 * nothing is ever decrypted or decompressed (JWT-13).
 */
export function decodeJws(token: string): DecodedJws {
  if (!COMPACT_JWS.test(token)) {
    const parts = token.split('.').length
    if (parts === 5) throw malformed('encrypted tokens (JWE) are not accepted')
    if (parts !== 3) throw malformed('a JWT has three dot-separated parts')
    throw malformed('the parts are not base64url')
  }
  const dot1 = token.indexOf('.')
  const dot2 = token.indexOf('.', dot1 + 1)
  const header = decodeJsonSegment(token.slice(0, dot1), 'header')
  return {
    header,
    signingInputEnd: dot2,
    payloadStart: dot1 + 1,
    signature: Buffer.from(token.slice(dot2 + 1), 'base64url'),
  }
}
