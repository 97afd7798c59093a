import { describe, expect, it } from 'vitest'
import { mapLimit } from '../lib/pool.js'

describe('mapLimit', () => {
  it('never runs more than the limit at once and keeps the input order', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (ms, i) => {
      running += 1
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, ms * 3))
      running -= 1
      return `${i}:${ms}`
    })
    expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0'])
    expect(peak).toBe(2)
  })
})
