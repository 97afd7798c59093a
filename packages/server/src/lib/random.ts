import { randomBytes } from 'node:crypto'

/** Source of cryptographically secure randomness, injectable so tests can observe or fix it. */
export interface Random {
  bytes(n: number): Buffer
}

export const cryptoRandom: Random = { bytes: (n) => randomBytes(n) }

/** A random identifier: `bytes` bytes of CSPRNG output in base64url (16 bytes = 128 bits). */
export function randomId(random: Random, bytes = 16): string {
  return random.bytes(bytes).toString('base64url')
}
