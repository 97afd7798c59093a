/**
 * The part of oidc-provider's API the upstream sign-in tests use (the package ships no types, and
 * @types/oidc-provider targets older majors).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  interface Account {
    accountId: string
    claims: () => Promise<Record<string, unknown>>
  }

  interface Configuration {
    clients?: Record<string, unknown>[]
    jwks?: { keys: Record<string, unknown>[] }
    cookies?: { keys: string[] }
    scopes?: string[]
    claims?: Record<string, string[]>
    conformIdTokenClaims?: boolean
    findAccount?: (ctx: unknown, sub: string) => Promise<Account | undefined>
    features?: Record<string, unknown>
  }

  class Provider {
    constructor(issuer: string, configuration?: Configuration)
    callback(): (req: IncomingMessage, res: ServerResponse) => void
  }
  export default Provider
}
