/**
 * A `returnTo` from a query string, if it is a path of this app; else `fallback`. Use it on the
 * sign-in route before navigating back, so a crafted link cannot send the user to another site
 * (`//evil.example`, `/\evil.example`, `https://...`, `javascript:`).
 *
 * @example
 * router.replace(safeReturnTo(params.get('returnTo'), '/'))
 */
export function safeReturnTo(value: string | null | undefined, fallback = '/'): string {
  if (typeof value !== 'string' || value === '') return fallback
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return fallback
  // Control characters (tab, newline) are dropped by URL parsers and could make `/\t/evil` `//evil`.
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) < 0x20 || value.charCodeAt(i) === 0x7f) return fallback
  }
  return value
}
