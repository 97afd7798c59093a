import { randomFillSync } from 'node:crypto'

/** Source of cryptographically secure randomness, injectable so tests can observe or fix it. */
export interface Random {
  bytes(n: number): Buffer
}

const POOL_SIZE = 4096
let pool = Buffer.alloc(0)
let offset = 0

/**
 * CSPRNG bytes from node:crypto, drawn from a 4 KiB pool refilled in one call: the refresh hot path
 * takes a few small ids per request, and one getrandom call per id was 5% of its time. Every byte
 * is handed out once and the returned buffers are copies, so no two callers share or see each
 * other's bytes.
 */
export const cryptoRandom: Random = {
  bytes(n: number): Buffer {
    if (n > POOL_SIZE / 4) return randomFillSync(Buffer.alloc(n))
    if (offset + n > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafe(POOL_SIZE))
      offset = 0
    }
    const out = Buffer.from(pool.subarray(offset, offset + n))
    // Wipe what was handed out, so the pool never holds a copy of a live secret.
    pool.fill(0, offset, offset + n)
    offset += n
    return out
  },
}

/** A random identifier: `bytes` bytes of CSPRNG output in base64url (16 bytes = 128 bits). */
export function randomId(random: Random, bytes = 16): string {
  return random.bytes(bytes).toString('base64url')
}
