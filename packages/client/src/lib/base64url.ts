const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const LOOKUP = new Map([...ALPHABET].map((c, i) => [c, i]))

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
    const v = LOOKUP.get(c)
    if (v === undefined) throw new Error('invalid base64url character')
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[j++] = (acc >> bits) & 0xff
    }
  }
  return out
}

/** UTF-8 bytes of `s`; without TextEncoder (older Hermes) by hand. */
export function utf8Encode(s: string): Uint8Array {
  if (typeof TextEncoder === 'function') return new TextEncoder().encode(s)
  const out: number[] = []
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    }
  }
  return Uint8Array.from(out)
}

/** Decodes UTF-8, rejecting malformed input; without TextDecoder (Hermes) by hand. */
export function utf8Decode(b: Uint8Array): string {
  if (typeof TextDecoder === 'function') return new TextDecoder('utf-8', { fatal: true }).decode(b)
  let out = ''
  for (let i = 0; i < b.length;) {
    const x = b[i]!
    const need =
      x < 0x80
        ? 0
        : x >= 0xc2 && x < 0xe0
          ? 1
          : x >= 0xe0 && x < 0xf0
            ? 2
            : x >= 0xf0 && x < 0xf5
              ? 3
              : -1
    if (need < 0 || i + need >= b.length + (need === 0 ? 1 : 0)) throw new Error('invalid UTF-8')
    let c = need === 0 ? x : x & (0x3f >> need)
    for (let k = 1; k <= need; k++) {
      const y = b[i + k]
      if (y === undefined || (y & 0xc0) !== 0x80) throw new Error('invalid UTF-8')
      c = (c << 6) | (y & 63)
    }
    if (
      (need === 2 && (c < 0x800 || (c >= 0xd800 && c < 0xe000))) ||
      (need === 3 && (c < 0x10000 || c > 0x10ffff))
    ) {
      throw new Error('invalid UTF-8')
    }
    out += String.fromCodePoint(c)
    i += need + 1
  }
  return out
}
