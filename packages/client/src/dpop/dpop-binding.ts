import type { FetchInit, FetchInput, FetchResponse } from '../platform-types.js'
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
  forClient(issuer: string, clientId: string): DpopAgent
}

/** Sends one client's requests with DPoP proofs. */
export interface DpopAgent {
  /**
   * Sends a request with a DPoP proof made for it: to the token endpoint (`accessToken`
   * undefined), or to an API with `accessToken`, which goes as `Authorization: DPoP <token>` with
   * the proof's `ath` when the token is DPoP-bound and as `Bearer` without a proof otherwise.
   * When the server or API asks for a nonce (`use_dpop_nonce`), resends once with it. `now` is
   * the time (ms) on the server's clock, for the proof's `iat`.
   */
  send(
    fetch: FetchLike,
    input: FetchInput,
    init: FetchInit | undefined,
    accessToken: string | undefined,
    now: number,
  ): Promise<FetchResponse>
  /** Discards the key: the session it bound has ended. The next sign-in makes a new one. */
  reset(): Promise<void>
}
