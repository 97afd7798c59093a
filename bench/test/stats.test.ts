import { describe, expect, it } from 'vitest'
import { percentile, summarize } from '../lib/stats.js'

describe('percentile (nearest rank)', () => {
  const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1)

  it('p50 and p99 of 1..100 are 50 and 99, p100 is the maximum', () => {
    expect(percentile(oneToHundred, 50)).toBe(50)
    expect(percentile(oneToHundred, 99)).toBe(99)
    expect(percentile(oneToHundred, 100)).toBe(100)
    expect(percentile(oneToHundred, 0.5)).toBe(1)
  })

  it('rounds the rank up: p99 of 10 samples is the largest, p50 the fifth', () => {
    const ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    expect(percentile(ten, 99)).toBe(100)
    expect(percentile(ten, 90)).toBe(90)
    expect(percentile(ten, 50)).toBe(50)
    expect(percentile(ten, 51)).toBe(60)
  })

  it('a single sample is every percentile; no samples give NaN', () => {
    expect(percentile([7], 1)).toBe(7)
    expect(percentile([7], 99)).toBe(7)
    expect(percentile([], 50)).toBeNaN()
  })

  it('rejects percentiles outside (0, 100]', () => {
    expect(() => percentile([1], 0)).toThrow(RangeError)
    expect(() => percentile([1], 101)).toThrow(RangeError)
  })

  it('summarize sorts its input before taking percentiles', () => {
    const shuffled = [5, 3, 9, 1, 7, 2, 8, 10, 4, 6]
    expect(summarize(shuffled)).toEqual({
      count: 10,
      min: 1,
      mean: 5.5,
      p50: 5,
      p90: 9,
      p99: 10,
      max: 10,
    })
    expect(shuffled[0]).toBe(5)
  })
})
