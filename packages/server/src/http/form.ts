import { InvalidRequest } from '../oauth/errors.js'

/** A parsed form or query: every parameter with all the values it was given. */
export type Params = Map<string, string[]>

export function parseParams(raw: string | URLSearchParams): Params {
  const sp = typeof raw === 'string' ? new URLSearchParams(raw) : raw
  const out: Params = new Map()
  for (const [k, v] of sp) {
    const list = out.get(k)
    if (list) list.push(v)
    else out.set(k, [v])
  }
  return out
}

/**
 * The single value of a parameter. An empty value counts as absent (RFC 6749 3.1); a parameter
 * given twice is invalid_request (RFC 6749 3.1, OAuth 2.1 3.2, TOK-04).
 */
export function param(p: Params, name: string, maxLength = 2048): string | undefined {
  const v = p.get(name)
  if (!v) return undefined
  if (v.length > 1) throw new InvalidRequest(`parameter ${name} is included more than once`)
  const s = v[0] as string
  if (s === '') return undefined
  if (s.length > maxLength) throw new InvalidRequest(`parameter ${name} is too long`)
  return s
}

export function requireParam(p: Params, name: string, maxLength = 2048): string {
  const v = param(p, name, maxLength)
  if (v === undefined) throw new InvalidRequest(`missing required parameter ${name}`)
  return v
}

/** Several values of a repeatable parameter (RFC 8707 `resource`), de-duplicated in order. */
export function paramList(p: Params, name: string, maxLength = 2048): string[] {
  const v = p.get(name) ?? []
  for (const s of v) {
    if (s.length > maxLength) throw new InvalidRequest(`parameter ${name} is too long`)
  }
  return [...new Set(v.filter((s) => s !== ''))]
}
