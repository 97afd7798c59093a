const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Base64url without padding (RFC 4648 section 5), with no dependency on `btoa` or `Buffer`. */
export function base64urlEncode(bytes: Uint8Array): string {
  let out = ''
  let acc = 0
  let bits = 0
  for (const b of bytes) {
    // Only the low `bits` bits of `acc` matter, so its 32-bit overflow is harmless.
    acc = (acc << 8) | b
    bits += 8
    while (bits >= 6) {
      bits -= 6
      out += ALPHABET[(acc >> bits) & 63]
    }
  }
  return bits > 0 ? out + ALPHABET[(acc << (6 - bits)) & 63] : out
}

/** Decodes base64url (padding tolerated); throws on any other character. */
export function base64urlDecode(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '')
  if (clean.length % 4 === 1) throw new Error('invalid base64url length')
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4))
  let acc = 0
  let bits = 0
  let j = 0
  for (const c of clean) {
    const v = ALPHABET.indexOf(c)
    if (v < 0) throw new Error('invalid base64url character')
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[j++] = (acc >> bits) & 0xff
    }
  }
  return out
}

/**
 * UTF-8 bytes of `s` (a well-formed string), through `encodeURIComponent`: the same on every
 * platform, with no dependency on `TextEncoder` (missing on older Hermes).
 */
export function utf8Encode(s: string): Uint8Array {
  const e = encodeURIComponent(s)
  const out: number[] = []
  for (let i = 0; i < e.length; i++) {
    if (e[i] === '%') {
      out.push(parseInt(e.slice(i + 1, i + 3), 16))
      i += 2
    } else out.push(e.charCodeAt(i))
  }
  return Uint8Array.from(out)
}

/**
 * Decodes UTF-8, rejecting malformed input (overlong forms, surrogates, truncated sequences), with
 * no dependency on `TextDecoder` (missing on Hermes): `decodeURIComponent` implements exactly
 * these checks (ECMA-262 Decode).
 */
export function utf8Decode(b: Uint8Array): string {
  let e = ''
  for (const x of b) e += (x < 16 ? '%0' : '%') + x.toString(16)
  try {
    return decodeURIComponent(e)
  } catch {
    throw new Error('invalid UTF-8')
  }
}
