/**
 * The small part of oidc-provider 9's API the bench uses (the package ships no type declarations).
 * @see https://github.com/panva/node-oidc-provider/blob/v9.x/docs/README.md
 */
declare module 'oidc-provider' {
  import type { Server } from 'node:http'

  export interface AdapterPayload {
    [key: string]: unknown
    grantId?: string
    userCode?: string
    uid?: string
    consumed?: unknown
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>
    find(id: string): Promise<AdapterPayload | undefined>
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>
    findByUid(uid: string): Promise<AdapterPayload | undefined>
    consume(id: string): Promise<void>
    destroy(id: string): Promise<void>
    revokeByGrantId(grantId: string): Promise<void>
  }

  export type AdapterFactory = (name: string) => Adapter

  export const errors: {
    InvalidTarget: new (description?: string) => Error
  }

  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>)
    readonly issuer: string
    listen(port: number, host: string, callback?: () => void): Server
    on(event: 'server_error' | 'grant.error', listener: (ctx: unknown, err: Error) => void): this
  }
}
