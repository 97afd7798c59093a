/**
 * The configured upstream OpenID providers as `openid-client` configurations, discovered once
 * (`/.well-known/openid-configuration` of the issuer, whose `issuer` must equal the configured
 * one) and kept; a failed discovery is not kept, so the next sign-in tries again.
 *
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfigurationValidation
 */
import * as oidc from 'openid-client'
import type { UpstreamProvider } from '../config/config.js'
import { insecureUpstream } from '../config/resolve-upstream.js'

export class UpstreamClients {
  readonly #providers = new Map<string, UpstreamProvider>()
  readonly #configs = new Map<string, Promise<oidc.Configuration>>()

  constructor(providers: readonly UpstreamProvider[]) {
    for (const p of providers) this.#providers.set(p.id, p)
  }

  get list(): UpstreamProvider[] {
    return [...this.#providers.values()]
  }

  provider(id: string): UpstreamProvider | undefined {
    return this.#providers.get(id)
  }

  /** The provider's discovered configuration; rejects when discovery fails. */
  configuration(p: UpstreamProvider): Promise<oidc.Configuration> {
    let c = this.#configs.get(p.id)
    if (!c) {
      c = oidc.discovery(
        new URL(p.issuer),
        p.clientId,
        undefined,
        oidc.ClientSecretBasic(p.clientSecret),
        insecureUpstream(p)
          ? { execute: [oidc.allowInsecureRequests], timeout: 10 }
          : { timeout: 10 },
      )
      this.#configs.set(p.id, c)
      c.catch(() => this.#configs.delete(p.id))
    }
    return c
  }
}
