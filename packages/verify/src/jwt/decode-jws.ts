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

/** Where the parts of a compact JWS are: `header.payload.signature`. */
export interface JwsParts {
  /** Index of the first dot. */
  dot1: number
  /** Index of the second dot: `token.slice(0, dot2)` is the JWS signing input. */
  dot2: number
}

const BASE64URL = /^[A-Za-z0-9_-]*$/

function malformed(reason: string): TesseraVerifyError {
  return new TesseraVerifyError('token_malformed', `the token is malformed: ${reason}`)
}

/**
 * Finds the three parts of a compact JWS (RFC 7515 7.1). Five-part tokens (JWE) are refused:
 * nothing is ever decrypted or decompressed (JWT-13).
 */
export function splitJws(token: string): JwsParts {
  const dot1 = token.indexOf('.')
  const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1)
  if (dot2 < 0 || token.indexOf('.', dot2 + 1) >= 0) {
    if (token.split('.').length === 5) throw malformed('encrypted tokens (JWE) are not accepted')
    throw malformed('a JWT has three dot-separated parts')
  }
  if (dot1 === 0 || dot2 === dot1 + 1) throw malformed('the header and payload must not be empty')
  // Buffer's base64 decoder reads a character above U+00FF by its low byte, so without this a
  // token with 'A' written as U+0141 would decode, and verify, like the original.
  if (Buffer.byteLength(token, 'utf8') !== token.length) {
    throw malformed('a JWT is ASCII: base64url parts and dots')
  }
  return { dot1, dot2 }
}

/**
 * Parses a base64url JSON segment into a plain object. With `scratch` (at least as long as the
 * segment), the bytes are decoded into it instead of a new buffer: the hot path allocates less.
 */
export function decodeJsonSegment(
  segment: string,
  what: string,
  scratch?: Buffer,
): Record<string, unknown> {
  let value: unknown
  try {
    let text: string
    if (scratch) {
      const n = scratch.write(segment, 0, 'base64url')
      text = scratch.toString('utf8', 0, n)
    } else {
      text = Buffer.from(segment, 'base64url').toString('utf8')
    }
    value = JSON.parse(text)
  } catch {
    throw malformed(`the ${what} is not base64url-encoded JSON`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`)
  }
  return value as Record<string, unknown>
}

/** The header, strictly base64url (Buffer's decoder would skip stray characters). */
export function decodeHeader(segment: string): JwsHeader {
  if (!BASE64URL.test(segment)) throw malformed('the header is not base64url')
  return decodeJsonSegment(segment, 'header')
}

/** Value of each base64url character; 255 for every other code. */
const BASE64URL_VALUE = (() => {
  const t = new Uint8Array(128).fill(255)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i
  return t
})()

/**
 * Decodes the signature into `into`, which is exactly as long as a signature by the key, and
 * says whether the segment is the one canonical base64url spelling of that many bytes. Buffer's
 * decoder is lenient in three ways, each of which would let several strings carry one signature:
 * it skips characters outside both base64 alphabets (they show up as a short result), reads `+`
 * and `/` as `-` and `_` (refused here), and ignores the unused low bits of the last character
 * (which must be zero: a 256-byte signature ends in a character carrying 2 bits, 16 spellings).
 * splitJws has refused non-ASCII characters. The header and payload need no such check, since
 * the signature covers their exact characters.
 */
export function decodeSignature(segment: string, into: Buffer): boolean {
  const length = into.length
  if (segment.length !== Math.ceil((length * 4) / 3)) return false
  if (segment.indexOf('+') >= 0 || segment.indexOf('/') >= 0) return false
  const spare = length % 3 === 1 ? 0x0f : length % 3 === 2 ? 0x03 : 0
  if (spare !== 0) {
    const code = segment.charCodeAt(segment.length - 1)
    const last = code < 128 ? (BASE64URL_VALUE[code] as number) : 255
    if (last === 255 || (last & spare) !== 0) return false
  }
  return into.write(segment, 0, 'base64url') === length
}

/**
 * Whether a compact JWS is ASCII and its signature segment the one canonical base64url spelling
 * of `length` bytes (JWT-19): for a party that verifies with another library, such as the Tessera
 * server with jose, which reads the unused low bits of the last character as if they were zero.
 */
export function isCanonicalJwsSignature(token: string, length: number): boolean {
  if (Buffer.byteLength(token, 'utf8') !== token.length) return false
  const dot = token.lastIndexOf('.')
  if (dot < 0 || length <= 0) return false
  return decodeSignature(token.slice(dot + 1), Buffer.allocUnsafe(length))
}
