/**
 * Structural equality for snapshot fields: primitives by `Object.is`, arrays and plain objects
 * (ID token claims) by their contents. The client builds a new `user` object on every refresh;
 * comparing it by value keeps the one a component already holds, so effects that depend on it do
 * not run again for the same claims.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false
    if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) {
      return false
    }
  }
  return true
}
