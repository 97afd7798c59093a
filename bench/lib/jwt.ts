/** Decodes a compact JWS's header and payload without verifying it (the bench only inspects). */
export function decodeJwt(token: string): {
  header: Record<string, unknown>
  payload: Record<string, unknown>
} {
  const [h, p] = token.split('.')
  if (!h || !p) throw new Error('not a compact JWS')
  const part = (s: string) =>
    JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>
  return { header: part(h), payload: part(p) }
}
