import { InvalidRequest } from '../../oauth/errors.js'

/**
 * Opaque pagination cursors: base64url JSON of the last item's sort key, tagged with the listing
 * it belongs to, so a cursor of one listing is refused by another. A client must not build them.
 */
export type CursorKind = 'users' | 'sessions' | 'events'

export function encodeCursor(kind: CursorKind, key: (string | number)[]): string {
  return Buffer.from(JSON.stringify([kind, ...key])).toString('base64url')
}

/** The sort key of a cursor: `shape` lists the type of each part. Throws 400 on anything else. */
export function decodeCursor<const S extends readonly ('string' | 'number')[]>(
  kind: CursorKind,
  cursor: string,
  shape: S,
): { [K in keyof S]: S[K] extends 'string' ? string : number } {
  const bad = new InvalidRequest('cursor is not a cursor of this listing')
  if (!/^[A-Za-z0-9_-]{1,700}$/.test(cursor)) throw bad
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw bad
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length + 1 || parsed[0] !== kind) throw bad
  const rest = parsed.slice(1) as unknown[]
  rest.forEach((v, i) => {
    const want = shape[i]
    if (want === 'number' ? !Number.isSafeInteger(v) : typeof v !== 'string') throw bad
  })
  return rest as { [K in keyof S]: S[K] extends 'string' ? string : number }
}

/** Page sizes of the admin listings. */
export const PAGE = { default: 50, max: 500 } as const

/** A page of a listing and the cursor of the next one (null on the last page). */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}
