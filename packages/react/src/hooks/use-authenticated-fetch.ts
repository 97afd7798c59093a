import { useMemo } from 'react'
import type { TesseraClient } from '@tessera/client'
import { TesseraReactError } from '../errors.js'
import { useBinding } from '../provider/tessera-provider.js'

/** `fetch` with the access token of the URL's API; see the client's `fetch`. */
export type AuthenticatedFetch = TesseraClient['fetch']

/**
 * The client's `fetch` (a stable function): requests to a configured API carry its token, a 401
 * that says `invalid_token` refreshes once (however many components got it) and replays once.
 *
 * @example
 * const fetch = useAuthenticatedFetch()
 * useEffect(() => { void fetch('https://api.example.com/orders').then(...) }, [fetch])
 */
export function useAuthenticatedFetch(): AuthenticatedFetch {
  return useBinding('useAuthenticatedFetch').client.fetch
}

/** One API, by audience: its token and a `fetch` limited to its URLs. */
export interface Api {
  readonly audience: string
  /** An access token for this API; `scope` narrows it. */
  readonly getToken: (options?: { scope?: string }) => Promise<string>
  /**
   * The client's `fetch`, refusing (`wrong_audience`, before any request) a URL that is not
   * under this API's `baseUrl`: such a request would go out without a token.
   */
  readonly fetch: AuthenticatedFetch
}

/**
 * The API of `audience` (one of the client's `apis`). Stable while the audience is.
 *
 * @example
 * const orders = useApi('https://api.example.com')
 * const res = await orders.fetch('https://api.example.com/orders')
 */
export function useApi(audience: string): Api {
  const { client } = useBinding('useApi')
  return useMemo(
    () =>
      Object.freeze({
        audience,
        getToken: (o: { scope?: string } = {}) =>
          client.getToken(o.scope === undefined ? { audience } : { audience, scope: o.scope }),
        fetch: async (input: Request | string | URL, init?: RequestInit) => {
          const url = input instanceof Request ? input.url : String(input)
          const of = client.audienceFor(new Request(url).url)
          if (of !== audience) {
            throw new TesseraReactError(
              'wrong_audience',
              of === undefined
                ? `useApi: the URL belongs to no configured API, not to ${audience}`
                : `useApi: the URL belongs to the API ${of}, not to ${audience}`,
            )
          }
          return client.fetch(input, init)
        },
      }),
    [client, audience],
  )
}
