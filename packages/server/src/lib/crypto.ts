import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

export function sha256(input: string | Buffer): Buffer {
  return createHash('sha256').update(input).digest()
}

export function sha256b64u(input: string | Buffer): string {
  return sha256(input).toString('base64url')
}

export function hmac(key: Buffer, ...parts: (string | Buffer)[]): Buffer {
  const h = createHmac('sha256', key)
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p, 'utf8') : p
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    h.update(len).update(b)
  }
  return h.digest()
}

/** Constant-time comparison of two strings; different lengths compare unequal without early exit
 * on content. */
export function safeEqual(a: string, b: string): boolean {
  const ab = sha256(a)
  const bb = sha256(b)
  return timingSafeEqual(ab, bb) && a.length === b.length
}

/** Derives a purpose-bound 32-byte key from the server secret, so one configured secret serves
 * refresh-token MACs, cookie signing and key encryption without the uses ever sharing a key. */
export function deriveKey(secret: Buffer, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `tessera:${purpose}`, 32))
}
