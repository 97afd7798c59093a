import type { FetchLike } from '../http/http.js'

/**
 * DPoP (RFC 9449) for a client: what the `dpop` option of `createTesseraClient` takes. Build one
 * with `browserDpop()` or `dpopSigner(...)` from `@tessera/client/dpop`; the core of the client
 * knows only this interface, so an app without DPoP carries none of its code.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9449
 */
export interface DpopBinding {
  /** The agent of one client, called once by `createTesseraClient`: one key per issuer and
   * client. */
  forClient(client: DpopClient, fetch: FetchLike, serverTime: DpopClock): DpopAgent
}

/** The client a DPoP agent works for: its options. */
export interface DpopClient {
  issuer: string
  clientId: string
}

/** The server's clock as the client measures it, for the proofs' `iat`. */
export interface DpopClock {
  /** Milliseconds since the epoch. */
  now(): number
}

/** Sends one client's requests with DPoP proofs. */
export interface DpopAgent {
  /**
   * Sends a request with a DPoP proof made for it. A request with `Authorization: Bearer <token>`
   * goes to an API: a DPoP-bound token is sent as `Authorization: DPoP <token>` with the proof's
   * `ath`, an unbound one as it is, without a proof. Any other request goes to the token endpoint
   * and gets a proof. When the server or API asks for a nonce (`use_dpop_nonce`), resends once
   * with it. Called as a plain function (without `this`).
   */
  send: FetchLike
  /** The JWK SHA-256 thumbprint (RFC 7638) of the key, made now if there is none: sent as
   * `dpop_jkt` in the authorization request, so the code can only be redeemed with a proof of
   * this key (RFC 9449 10). */
  jkt(): Promise<string>
  /** Discards the key: the session it bound has ended. The next sign-in makes a new one. Never
   * rejects. */
  reset(): Promise<void>
}
