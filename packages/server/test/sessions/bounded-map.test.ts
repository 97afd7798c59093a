import { describe, expect, it } from 'vitest'
import { BoundedMap } from '../../src/lib/bounded-map.js'
import { SessionFacts } from '../../src/sessions/session-facts.js'
import { sessionRecord } from '../store/records.js'

describe('BoundedMap: the bound of every in-process cache', () => {
  it('keeps at most max entries, dropping the oldest new key first', () => {
    const m = new BoundedMap<string, number>(3)
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) m.set(k, i)
    expect([...m.entries()]).toEqual([
      ['c', 2],
      ['d', 3],
      ['e', 4],
    ])
  })

  it('setting a key again replaces it, makes it the newest and evicts nothing', () => {
    const m = new BoundedMap<string, number>(2)
    m.set('a', 1).set('b', 2).set('a', 3)
    expect([...m.entries()]).toEqual([
      ['b', 2],
      ['a', 3],
    ])
    m.set('c', 4)
    expect([...m.keys()]).toEqual(['a', 'c'])
  })

  it('refuses a bound that is not a whole number >= 1', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => new BoundedMap(bad)).toThrow(new RangeError('max must be a whole number >= 1'))
    }
  })
})

describe('SessionFacts', () => {
  it('keeps the first copy of a session and at most max sessions', () => {
    const facts = new SessionFacts(2)
    const [a, b, c] = [sessionRecord(), sessionRecord(), sessionRecord()]
    facts.remember(a)
    facts.remember({ ...a, generation: a.generation + 1 })
    expect(facts.get(a.id)).toBe(a)
    facts.remember(b)
    facts.remember(c)
    expect(facts.get(a.id)).toBeUndefined()
    expect(facts.get(b.id)).toBe(b)
    expect(facts.get(c.id)).toBe(c)
  })
})
