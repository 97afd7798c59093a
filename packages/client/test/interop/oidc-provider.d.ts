/**
 * The part of oidc-provider's API the interop test uses (the package ships no types, and
 * @types/oidc-provider targets older majors).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  interface Account {
    accountId: string
    claims: () => Promise<Record<string, unknown>>
  }

  interface ResourceServer {
    scope: string
    audience?: string
    accessTokenTTL?: number
    accessTokenFormat?: 'opaque' | 'jwt'
    jwt?: { sign?: { alg: string } }
  }

  interface Configuration {
    clients?: Record<string, unknown>[]
    jwks?: { keys: Record<string, unknown>[] }
    cookies?: { keys: string[] }
    scopes?: string[]
    claims?: Record<string, string[]>
    findAccount?: (ctx: unknown, sub: string) => Promise<Account | undefined>
    features?: Record<string, unknown> & {
      resourceIndicators?: {
        enabled: boolean
        defaultResource?: (
          ctx: unknown,
          client: unknown,
          oneOf?: string[],
        ) => Promise<string | string[] | undefined>
        useGrantedResource?: (ctx: unknown, model: unknown) => Promise<boolean>
        getResourceServerInfo?: (
          ctx: unknown,
          resource: string,
          client: unknown,
        ) => Promise<ResourceServer>
      }
    }
    rotateRefreshToken?: boolean | ((ctx: unknown) => boolean)
    issueRefreshToken?: (ctx: unknown, client: unknown, code: unknown) => Promise<boolean>
    ttl?: Record<string, number>
  }

  class Provider {
    constructor(issuer: string, configuration?: Configuration)
    callback(): (req: IncomingMessage, res: ServerResponse) => void
    static errors: { InvalidTarget: new (description?: string) => Error }
  }
  export default Provider
}
