import type { AuthorizationCodeRecord, ClientRecord, SessionRecord } from '../../store/types.js'
import { InvalidGrant } from '../errors.js'
import type { DpopProof } from './dpop-proof.js'

/**
 * The key a new session's refresh tokens are bound to: the proof's, for public clients. A
 * confidential client's refresh tokens are already sender-constrained by its client
 * authentication, and RFC 9449 5 leaves them unbound, so such a client may rotate its DPoP key.
 * A session is bound at the code exchange or never: binding a live session later would let
 * whoever holds a stolen refresh token lock its owner out.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export function sessionJkt(client: ClientRecord, proof: DpopProof | undefined): string | null {
  return proof && client.tokenEndpointAuthMethod === 'none' ? proof.jkt : null
}

/**
 * RFC 9449 10: a code requested with `dpop_jkt` is redeemed only with a proof of that key.
 * Checked before the code is consumed, so a wrong or missing proof burns nothing.
 */
export function checkCodeBinding(rec: AuthorizationCodeRecord, proof: DpopProof | undefined): void {
  if (!rec.dpopJkt) return
  if (!proof) {
    throw new InvalidGrant('a DPoP proof is required: the authorization request named dpop_jkt')
  }
  if (proof.jkt !== rec.dpopJkt) {
    throw new InvalidGrant(
      'the DPoP proof key does not match dpop_jkt of the authorization request',
    )
  }
}

/**
 * RT-18: the refresh token of a bound session is refused without a proof of its key. Checked
 * before the generation is looked at, so such a request rotates nothing, uses no grace replay and
 * revokes nothing: without the key, the token is worth nothing to whoever presents it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-5
 */
export function checkRefreshBinding(session: SessionRecord, proof: DpopProof | undefined): void {
  if (!session.dpopJkt) return
  if (!proof) {
    throw new InvalidGrant(
      'the refresh token is bound to a DPoP key: send a DPoP proof made with that key',
      'DPoP-bound refresh token without a proof',
    )
  }
  if (proof.jkt !== session.dpopJkt) {
    throw new InvalidGrant(
      'the DPoP proof was not made with the key the refresh token is bound to',
      'DPoP-bound refresh token with a proof of another key',
    )
  }
}
