import { base64urlEncode, utf8Encode } from '../lib/base64url.js'
import { randomBytes, type CryptoProvider } from '../lib/crypto.js'

/**
 * A fresh PKCE pair (RFC 7636, OAuth 2.1 section 7.5.1.1): 32 random bytes as a 43-character
 * base64url verifier, and its S256 challenge. Call it for every authorization request (SDK-04).
 *
 * @see https://www.rfc-editor.org/rfc/rfc7636#section-4.1
 */
export async function createPkce(
  crypto: CryptoProvider,
): Promise<{ verifier: string; challenge: string }> {
  const verifier = base64urlEncode(randomBytes(crypto, 32))
  const challenge = base64urlEncode(await crypto.sha256(utf8Encode(verifier)))
  return { verifier, challenge }
}

/** 32 random bytes, base64url: for `state` and `nonce`. */
export function randomToken(crypto: CryptoProvider): string {
  return base64urlEncode(randomBytes(crypto, 32))
}
