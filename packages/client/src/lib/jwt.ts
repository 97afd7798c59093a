import { base64urlDecode, utf8Decode } from './base64url.js'

export interface DecodedJwt {
  header: Record<string, unknown>
  payload: Record<string, unknown>
  /** The bytes the signature covers: `base64url(header) "." base64url(payload)`. */
  signingInput: string
  signature: Uint8Array
}

/**
 * Splits and decodes a compact JWS without verifying it. Throws on anything that is not three
 * base64url parts with JSON objects in the first two.
 */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error('not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  const header = parseObject(utf8Decode(base64urlDecode(h)))
  const payload = parseObject(utf8Decode(base64urlDecode(p)))
  return { header, payload, signingInput: `${h}.${p}`, signature: base64urlDecode(s) }
}

function parseObject(json: string): Record<string, unknown> {
  const v: unknown = JSON.parse(json)
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object')
  return v as Record<string, unknown>
}

/**
 * The `iat` and `exp` of a JWT access token, read without verification: only to measure the
 * server's clock. Undefined for opaque tokens.
 */
export function peekTimes(token: string): { iat?: number; exp?: number } | undefined {
  try {
    const { payload } = decodeJwt(token)
    const out: { iat?: number; exp?: number } = {}
    if (typeof payload.iat === 'number') out.iat = payload.iat
    if (typeof payload.exp === 'number') out.exp = payload.exp
    return out
  } catch {
    return undefined
  }
}
