/**
 * RS256 is checked as RFC 8017 8.2.2 writes it (RSAVP1 through `publicDecrypt`, then the expected
 * encoded message compared byte for byte), not by `crypto.verify`. These tests hold it to the same
 * answers as `crypto.verify` on valid, mutated and forged signatures, including the encodings a
 * lenient PKCS#1 v1.5 parser would take.
 */
import {
  constants,
  createHash,
  generateKeyPairSync,
  privateDecrypt,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto'
import { beforeAll, describe, expect, it } from 'vitest'
import { importJwk, type VerificationKey } from '../../src/keys/verification-key.js'

const SHA256_INFO = '3031300d060960864801650304020105000420'
const SHA256_INFO_NO_NULL = '302f300b0609608648016503040201' + '0420'
const SHA1_INFO = '3021300906052b0e03021a05000414'

interface Rsa {
  bits: number
  privateKey: KeyObject
  publicKey: KeyObject
  key: VerificationKey
  n: bigint
}

function rsa(bits: number, publicExponent = 65537): Rsa {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicExponent,
  })
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: `k${bits}`, alg: 'RS256' }
  const imported = importJwk(jwk, new Set(['RS256']))
  if (!Array.isArray(imported)) throw new Error(imported.reason)
  const n = BigInt(`0x${Buffer.from(jwk.n as string, 'base64url').toString('hex')}`)
  return { bits, privateKey, publicKey, key: imported[0] as VerificationKey, n }
}

/** A "signature" whose RSA public operation gives exactly `em` (the raw private operation). */
const rawSign = (k: Rsa, em: Buffer): Buffer =>
  privateDecrypt({ key: k.privateKey, padding: constants.RSA_NO_PADDING }, em)

/** `00 01 FF.. 00 info hash`, `ffCount` bytes of FF, then `tail` after the hash. */
function encoded(
  k: Rsa,
  o: { info?: string; hash: Buffer; blockType?: number; tail?: Buffer; ffCount?: number },
): Buffer {
  const info = Buffer.from(o.info ?? SHA256_INFO, 'hex')
  const tail = o.tail ?? Buffer.alloc(0)
  const length = k.bits / 8
  const ff = o.ffCount ?? length - 3 - info.length - o.hash.length - tail.length
  const em = Buffer.concat([
    Buffer.from([0x00, o.blockType ?? 0x01]),
    Buffer.alloc(ff, 0xff),
    Buffer.from([0x00]),
    info,
    o.hash,
    tail,
  ])
  if (em.length !== length) throw new Error(`encoded message is ${em.length} bytes`)
  return em
}

const sha = (alg: string, s: string) => createHash(alg).update(s).digest()

/** Ours and node:crypto's verdict on one signature over one signing input. */
function verdicts(k: Rsa, input: string, sig: Buffer): [boolean, boolean] {
  let node: boolean
  try {
    node = verify('sha256', Buffer.from(input), k.publicKey, sig)
  } catch {
    node = false
  }
  return [k.key.verify(input, sig), node]
}

let k2048: Rsa
let k3072: Rsa
beforeAll(() => {
  k2048 = rsa(2048)
  k3072 = rsa(3072)
})

const INPUT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9'

describe('RS256 by RSAVP1 and an encoded-message compare (RFC 8017 8.2.2)', () => {
  it('accepts what node:crypto signs, for 2048- and 3072-bit keys', () => {
    for (const k of [k2048, k3072]) {
      for (let i = 0; i < 20; i++) {
        const input = `${INPUT}${randomBytes(8).toString('base64url')}`
        const sig = sign('sha256', Buffer.from(input), k.privateKey)
        expect(verdicts(k, input, sig)).toEqual([true, true])
      }
    }
  })

  it('agrees with crypto.verify on every single-bit change of the signature and a changed character at every position of the input', () => {
    const k = k2048
    const sig = sign('sha256', Buffer.from(INPUT), k.privateKey)
    for (let bit = 0; bit < sig.length * 8; bit++) {
      const bad = Buffer.from(sig)
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7))
      expect(verdicts(k, INPUT, bad), `signature bit ${bit}`).toEqual([false, false])
    }
    for (let i = 0; i < INPUT.length; i++) {
      const input = `${INPUT.slice(0, i)}${INPUT[i] === 'A' ? 'B' : 'A'}${INPUT.slice(i + 1)}`
      expect(verdicts(k, input, sig), `input character ${i}`).toEqual([false, false])
    }
  })

  it('refuses a signature of the wrong length, or not below the modulus, without throwing', () => {
    const k = k2048
    const sig = sign('sha256', Buffer.from(INPUT), k.privateKey)
    const nBytes = Buffer.from(k.n.toString(16).padStart(512, '0'), 'hex')
    const nPlusOne = Buffer.from((k.n + 1n).toString(16).padStart(512, '0'), 'hex')
    const cases: [string, Buffer][] = [
      ['one byte short', sig.subarray(1)],
      ['one byte long', Buffer.concat([Buffer.alloc(1), sig])],
      ['empty', Buffer.alloc(0)],
      ['s = n', nBytes],
      ['s = n + 1', nPlusOne],
      ['all FF', Buffer.alloc(256, 0xff)],
      ['s = 0', Buffer.alloc(256)],
      ['s = 1', Buffer.concat([Buffer.alloc(255), Buffer.from([1])])],
    ]
    for (const [what, bad] of cases) {
      expect(verdicts(k, INPUT, bad), what).toEqual([false, false])
    }
  })

  it('refuses every encoding but the one EMSA-PKCS1-v1_5 gives, as node:crypto does', () => {
    const k = k2048
    const hash = sha('sha256', INPUT)
    // The construction is right: the canonical encoding, signed raw, passes both.
    expect(verdicts(k, INPUT, rawSign(k, encoded(k, { hash })))).toEqual([true, true])
    const cases: [string, Buffer][] = [
      ['block type 2', encoded(k, { hash, blockType: 0x02 })],
      ['block type 0', encoded(k, { hash, blockType: 0x00 })],
      ['SHA-1 DigestInfo and hash', encoded(k, { info: SHA1_INFO, hash: sha('sha1', INPUT) })],
      [
        'SHA-256 DigestInfo without the NULL parameters',
        encoded(k, { info: SHA256_INFO_NO_NULL, hash }),
      ],
      ['the SHA-256 hash of another input', encoded(k, { hash: sha('sha256', `${INPUT}x`) })],
      [
        'short padding, garbage after the hash',
        encoded(k, { hash, ffCount: 8, tail: randomBytes(194) }),
      ],
    ]
    const tampered = encoded(k, { hash })
    tampered[10] = 0xfe
    cases.push(['one padding byte FE', tampered])
    for (const [what, em] of cases) {
      expect(verdicts(k, INPUT, rawSign(k, em)), what).toEqual([false, false])
    }
  })

  it("refuses Bleichenbacher's 2006 forgery against a key with e = 3", () => {
    const k = rsa(2048, 3)
    expect(verdicts(k, INPUT, sign('sha256', Buffer.from(INPUT), k.privateKey))).toEqual([
      true,
      true,
    ])
    // 00 01 FF 00 DigestInfo hash, then garbage chosen so the whole is a perfect cube: no private
    // key involved. A verifier that parses the padding and stops after the hash would accept it.
    const head = Buffer.concat([
      Buffer.from('0001ff00', 'hex'),
      Buffer.from(SHA256_INFO, 'hex'),
      sha('sha256', INPUT),
    ])
    const garbageBits = BigInt((256 - head.length) * 8)
    const target = BigInt(`0x${head.toString('hex')}`) << garbageBits
    let s = cubeRootCeil(target)
    const em = s ** 3n
    expect(em >> garbageBits).toBe(BigInt(`0x${head.toString('hex')}`))
    expect(em < k.n).toBe(true)
    const forged = Buffer.from(s.toString(16).padStart(512, '0'), 'hex')
    expect(verdicts(k, INPUT, forged)).toEqual([false, false])
    s += 1n
    const next = Buffer.from(s.toString(16).padStart(512, '0'), 'hex')
    expect(verdicts(k, INPUT, next)).toEqual([false, false])
  })
})

/** The smallest integer whose cube is at least `x`. */
function cubeRootCeil(x: bigint): bigint {
  let lo = 0n
  let hi = 1n << BigInt(Math.ceil(x.toString(2).length / 3) + 1)
  while (lo < hi) {
    const mid = (lo + hi) >> 1n
    if (mid ** 3n < x) lo = mid + 1n
    else hi = mid
  }
  return lo
}
