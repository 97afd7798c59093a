import { decodeJwt, decodeProtectedHeader } from 'jose'
import { signCompactJws } from '../../src/tokens/jws.js'
import type { TestServer } from './test-server.js'

/**
 * The same claims, signed again with the server's own current key, under another `typ`: a token
 * that passes every check (signature, issuer, audience, expiry, session) except the type, so a
 * test of the type check (JWT-11) cannot pass through any other check by accident.
 */
export function withTyp(t: TestServer, token: string, typ: string): string {
  const key = t.server.ctx.keys.signingKey()
  if (decodeProtectedHeader(token).kid !== key.record.kid) {
    throw new Error('the token was not signed with the current key')
  }
  return signCompactJws(
    { alg: key.record.alg, typ, kid: key.record.kid },
    decodeJwt(token),
    key.signingKey,
  )
}
