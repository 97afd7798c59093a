import type { TesseraStorage } from '../src/index.js'

/**
 * The contract every TesseraStorage adapter must meet, runnable anywhere (Node, or inside a
 * Chromium page for IndexedDB): returns the list of broken rules, empty when it conforms.
 */
export async function storageConformance(make: () => TesseraStorage): Promise<string[]> {
  const failures: string[] = []
  const check = (ok: boolean, rule: string) => {
    if (!ok) failures.push(rule)
  }
  const s = make()
  const key = `conformance.${Math.random().toString(36).slice(2)}`
  check((await s.get(key)) === null, 'a missing key reads as null')
  await s.set(key, 'one')
  check((await s.get(key)) === 'one', 'a written value reads back')
  await s.set(key, 'two')
  check((await s.get(key)) === 'two', 'a second write replaces the value whole')
  const big = JSON.stringify({ refreshToken: 'tsr_' + 'x'.repeat(200), tokens: 'y'.repeat(20_000) })
  await s.set(key, big)
  check((await s.get(key)) === big, 'a 20 KB JSON value round-trips exactly')
  const unicode = '{"name":"Zoë 東京 🚀"}'
  await s.set(key, unicode)
  check((await s.get(key)) === unicode, 'non-ASCII text round-trips exactly')
  await s.set(`${key}.other`, 'other')
  await s.remove(key)
  check((await s.get(key)) === null, 'a removed key reads as null')
  check((await s.get(`${key}.other`)) === 'other', 'removing one key leaves the others')
  await s.remove(key)
  check(true, 'removing a missing key does not throw')
  const writes = Array.from({ length: 20 }, (_, i) => s.set(key, `v${i}`))
  await Promise.all(writes)
  check((await s.get(key)) === 'v19', 'concurrent writes apply in call order')
  const again = make()
  const persisted = (await again.get(`${key}.other`)) === 'other'
  await s.remove(key)
  await s.remove(`${key}.other`)
  return persisted
    ? failures
    : [...failures, 'persistence: a second instance does not see the data']
}
