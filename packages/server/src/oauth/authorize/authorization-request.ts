import type { Params } from '../../http/form.js'
import type { ClientRecord } from '../../store/types.js'

/** The `prompt` values of OIDC Core 3.1.2.1. */
export const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const
export type Prompt = (typeof PROMPTS)[number]

/**
 * The parameters /authorize reads, with the longest value each may have. Other parameters are
 * ignored (RFC 6749 3.1) and are not carried through sign-in.
 */
export const AUTHORIZATION_PARAMETERS: ReadonlyMap<string, number> = new Map([
  ['client_id', 128],
  ['redirect_uri', 2048],
  ['response_type', 64],
  ['response_mode', 64],
  ['scope', 2048],
  ['state', 2048],
  ['nonce', 2048],
  ['code_challenge', 256],
  ['code_challenge_method', 32],
  ['resource', 2048],
  ['audience', 2048],
  ['prompt', 64],
  ['max_age', 16],
  ['login_hint', 256],
  ['dpop_jkt', 64],
  ['acr_values', 2048],
  // OIDC Core 3.1.2.1: the languages of the hosted pages, carried by the login transaction.
  ['ui_locales', 256],
  ['request', 2048],
  ['request_uri', 2048],
])

/** What the checks of /authorize learn about a request, filled in as they run. */
export interface AuthorizationRequest {
  /** The recognised parameters only (see AUTHORIZATION_PARAMETERS). */
  readonly params: Params
  client: ClientRecord | undefined
  /** The redirect URI codes and errors go to: the requested one, or the only registered one. */
  redirectUri: string | undefined
  state: string | undefined
  /** Space-separated, de-duplicated, every token allowed for the client. */
  scope: string
  /** Audiences the grant allows (RFC 8707). */
  resources: string[]
  nonce: string | null
  codeChallenge: string
  prompt: ReadonlySet<string>
  /** Seconds (OIDC `max_age`). */
  maxAge: number | undefined
  loginHint: string | undefined
  /** RFC 9449 10: the DPoP key thumbprint the code is bound to. */
  dpopJkt: string | null
  /** OIDC `acr_values`, in order of preference. */
  acrValues: string[]
}

/** A request whose client and redirect URI are known: errors may now go back to the client. */
export type TrustedRequest = AuthorizationRequest & { client: ClientRecord; redirectUri: string }

export function isTrusted(r: AuthorizationRequest): r is TrustedRequest {
  return r.client !== undefined && r.redirectUri !== undefined
}

export function newAuthorizationRequest(all: Params): AuthorizationRequest {
  const params: Params = new Map()
  for (const [k, v] of all) if (AUTHORIZATION_PARAMETERS.has(k)) params.set(k, v)
  return {
    params,
    client: undefined,
    redirectUri: undefined,
    state: undefined,
    scope: '',
    resources: [],
    nonce: null,
    codeChallenge: '',
    prompt: new Set(),
    maxAge: undefined,
    loginHint: undefined,
    dpopJkt: null,
    acrValues: [],
  }
}
