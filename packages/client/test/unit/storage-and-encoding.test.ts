/**
 * The storage conformance suite on the memory adapter (the IndexedDB adapter runs the same suite
 * in Chromium, see test/browser), and the hand-written UTF-8 and base64url paths that platforms
 * without TextEncoder/TextDecoder (older Hermes) take.
 */
import { randomBytes } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { memoryStorage } from '../../src/index.js'
import {
  base64urlDecode,
  base64urlEncode,
  utf8Decode,
  utf8Encode,
} from '../../src/lib/base64url.js'
import { storageConformance } from '../storage-conformance.js'

describe('storage conformance', () => {
  it('memoryStorage meets the contract except persistence across instances (by design: memory)', async () => {
    expect(await storageConformance(memoryStorage)).toEqual([
      'persistence: a second instance does not see the data',
    ])
    const shared = memoryStorage()
    expect(await storageConformance(() => shared)).toEqual([])
  })
})

describe('encoding without platform helpers', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
  })

  it('base64url matches Node for lengths 0..64', () => {
    for (let n = 0; n <= 64; n++) {
      const b = randomBytes(n)
      const s = base64urlEncode(b)
      expect(s).toBe(b.toString('base64url'))
      expect(Buffer.from(base64urlDecode(s))).toEqual(b)
    }
    expect(() => base64urlDecode('ab+c')).toThrow('invalid base64url character')
  })

  it('UTF-8 by hand (no TextEncoder/TextDecoder) equals the platform’s, and rejects malformed input', () => {
    const samples = ['', 'plain', 'Zoë', '東京', '🚀 rocket', '{"name":"\u00e9\u4e2d\ud83d\ude00"}']
    const expected = samples.map((s) => Buffer.from(s, 'utf8'))
    vi.stubGlobal('TextEncoder', undefined)
    vi.stubGlobal('TextDecoder', undefined)
    samples.forEach((s, i) => {
      expect(Buffer.from(utf8Encode(s))).toEqual(expected[i])
      expect(utf8Decode(Uint8Array.from(expected[i]!))).toBe(s)
    })
    for (const bad of [
      [0xc0, 0x80],
      [0xe0, 0x80],
      [0xed, 0xa0, 0x80],
      [0xf5, 0x80, 0x80, 0x80],
      [0xe4, 0xb8],
    ]) {
      expect(() => utf8Decode(Uint8Array.from(bad))).toThrow('invalid UTF-8')
    }
  })
})
