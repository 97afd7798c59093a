/** UTF-8 byte length of one code point. */
function bytesOf(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4
}

/** The UTF-8 byte length of `s` (a lone surrogate counts as U+FFFD, 3 bytes, as encoders write it). */
export function utf8Length(s: string): number {
  let n = 0
  for (const ch of s) n += bytesOf(ch.codePointAt(0)!)
  return n
}

/**
 * Cuts `s` into pieces of at most `maxBytes` UTF-8 bytes each, on code point boundaries (a
 * surrogate pair is never split), so every piece is valid text and the pieces joined give `s`.
 */
export function splitUtf8(s: string, maxBytes: number): string[] {
  if (!(maxBytes >= 4)) throw new RangeError('maxBytes must be at least 4')
  const out: string[] = []
  let start = 0
  let i = 0
  let bytes = 0
  for (const ch of s) {
    const b = bytesOf(ch.codePointAt(0)!)
    if (bytes + b > maxBytes) {
      out.push(s.slice(start, i))
      start = i
      bytes = 0
    }
    bytes += b
    i += ch.length
  }
  if (i > start || out.length === 0) out.push(s.slice(start))
  return out
}

/** FNV-1a over the UTF-16 code units: detects a record assembled from parts of two writes. It is
 * not a security check (the platform store encrypts and authenticates each item). */
export function fnv1a(s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h.toString(16).padStart(8, '0')
}
