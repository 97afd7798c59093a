import type { ApiConfig } from '../../config/config.js'
import { apiRecord } from '../../config/records.js'
import { resolveApi } from '../../config/resolve.js'
import { Conflict, InvalidRequest, NotFound } from '../../oauth/errors.js'
import type { ApiRecord } from '../../store/types.js'
import { adminEvent, type Actor, type AdminDeps } from '../actor.js'
import { checkLengths, REGISTRATION_LIMITS, validateAs } from './registration-input.js'
import { apiView, type ApiView } from './views.js'

/**
 * APIs (audiences): scopes, access-token lifetime and the user metadata copied into their tokens.
 * Those declared in the configuration file are read-only here (409), as for clients. An API that
 * a client still lists cannot be deleted (409).
 */
export class ApiAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(): Promise<ApiView[]> {
    return (await this.#d.store.listApis()).map((a) => apiView(a, this.#d.config))
  }

  async get(audience: string): Promise<ApiView> {
    return apiView(await this.#find(audience), this.#d.config)
  }

  async create(actor: Actor, input: ApiConfig): Promise<ApiView> {
    this.#notManaged(input.audience)
    const record = this.#record(input)
    const r = await this.#d.store.writeApi({ create: record }, [
      adminEvent(this.#d, actor, 'api_created', {}, { audience: record.audience }),
    ])
    if (!r.ok) throw new Conflict(`API ${record.audience} exists already`)
    return apiView(record, this.#d.config)
  }

  /** Replaces the API; omitted settings take their defaults. Tokens issued before keep theirs. */
  async replace(
    actor: Actor,
    audience: string,
    input: Omit<ApiConfig, 'audience'> & { audience?: string },
  ): Promise<ApiView> {
    if (input.audience !== undefined && input.audience !== audience) {
      throw new InvalidRequest('audience: must be the audience in the path')
    }
    this.#notManaged(audience)
    const current = await this.#find(audience)
    const record = { ...this.#record({ ...input, audience }), createdAt: current.createdAt }
    const r = await this.#d.store.writeApi({ replace: record }, [
      adminEvent(this.#d, actor, 'api_updated', {}, { audience }),
    ])
    if (!r.ok) throw new NotFound(`no API ${audience}`)
    return apiView(record, this.#d.config)
  }

  async delete(actor: Actor, audience: string): Promise<{ audience: string }> {
    this.#notManaged(audience)
    // Whether a client lists it is checked inside the delete's transaction, so a client written
    // meanwhile cannot be left naming a deleted API.
    const r = await this.#d.store.writeApi({ delete: audience }, [
      adminEvent(this.#d, actor, 'api_deleted', {}, { audience }),
    ])
    if (!r.ok && r.reason === 'in_use') {
      throw new Conflict(
        `API ${audience} is still used by client ${r.clientIds.join(', ')}; remove it from their audiences and resourceServerFor first`,
      )
    }
    if (!r.ok) throw new NotFound(`no API ${audience}`)
    return { audience }
  }

  async #find(audience: string): Promise<ApiRecord> {
    const a = await this.#d.store.getApi(audience)
    if (!a) throw new NotFound(`no API ${audience}`)
    return a
  }

  #notManaged(audience: string | undefined): void {
    if (audience !== undefined && this.#d.config.apis.some((a) => a.audience === audience)) {
      throw new Conflict(
        `API ${audience} is declared in the configuration file, which is re-applied on every start; change it there`,
      )
    }
  }

  #record(input: ApiConfig): ApiRecord {
    checkLengths(input as unknown as Record<string, unknown>, ['scopes'])
    checkLengths(
      input as unknown as Record<string, unknown>,
      ['userClaims'],
      REGISTRATION_LIMITS.claim,
    )
    const resolved = validateAs('api', () => resolveApi(input, 'api'))
    return apiRecord(resolved, this.#d.clock.now())
  }
}
