/**
 * A numeric setting from the environment: `fallback` when unset or empty, otherwise a number in
 * [min, max], or the bench stops with a message naming the variable.
 */
export function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const v = Number(raw)
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}, got ${raw}`)
  }
  return v
}
