import { describe, expect, it } from 'vitest'
import { cryptoRandom, randomId } from '../../src/lib/random.js'

describe('the pooled CSPRNG', () => {
  it('hands out every byte once: ids drawn across pool refills are all distinct and 128-bit', () => {
    const ids = new Set<string>()
    // 2,000 x 16 bytes crosses the 4 KiB pool several times.
    for (let i = 0; i < 2000; i++) ids.add(randomId(cryptoRandom))
    expect(ids.size).toBe(2000)
    for (const id of ids) expect(Buffer.from(id, 'base64url')).toHaveLength(16)
  })

  it('returned buffers are independent copies, and large requests bypass the pool', () => {
    const a = cryptoRandom.bytes(32)
    const copy = Buffer.from(a)
    const b = cryptoRandom.bytes(32)
    b.fill(0)
    expect(a.equals(copy)).toBe(true)
    expect(cryptoRandom.bytes(8192)).toHaveLength(8192)
    // bits are balanced over many draws
    const sample = Buffer.concat(Array.from({ length: 256 }, () => cryptoRandom.bytes(16)))
    let ones = 0
    for (const byte of sample) for (let bit = 0; bit < 8; bit++) ones += (byte >> bit) & 1
    const total = sample.length * 8
    expect(Math.abs(ones - total / 2)).toBeLessThan(6 * Math.sqrt(total / 4))
  })
})
