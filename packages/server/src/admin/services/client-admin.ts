import type { ClientConfig } from '../../config/config.js'
import { clientRecord } from '../../config/records.js'
import { resolveClient } from '../../config/resolve.js'
import { randomId } from '../../lib/random.js'
import { hashClientSecret } from '../../oauth/client-secret.js'
import { Conflict, InvalidRequest, NotFound } from '../../oauth/errors.js'
import type { ClientRecord } from '../../store/types.js'
import type { AdminWriteResult } from '../../store/store.js'
import { adminEvent, revocation, type Actor, type AdminDeps } from '../actor.js'
import { checkLengths, validateAs } from './registration-input.js'
import { clientView, type ClientView } from './views.js'

/** A client as the Admin API takes it: the configuration's client object without `secret`, which
 * the server makes for confidential clients and shows once. */
export type ClientInput = Omit<ClientConfig, 'secret'>

/** A client and, when one was just made, its secret: shown this once, stored only hashed. */
export interface ClientWithSecret {
  client: ClientView
  clientSecret?: string
}

const LISTS = [
  'redirectUris',
  'postLogoutRedirectUris',
  'grantTypes',
  'scopes',
  'audiences',
  'resourceServerFor',
  'webOrigins',
]

/**
 * Registered clients. Those declared in the configuration file are re-written from it on every
 * start, so they are read-only here (409): the file stays the one truth for them.
 */
export class ClientAdmin {
  readonly #d: AdminDeps

  constructor(deps: AdminDeps) {
    this.#d = deps
  }

  async list(): Promise<ClientView[]> {
    return (await this.#d.store.listClients()).map((c) => clientView(c, this.#d.config))
  }

  async get(id: string): Promise<ClientView> {
    return clientView(await this.#find(id), this.#d.config)
  }

  async create(actor: Actor, input: ClientInput): Promise<ClientWithSecret> {
    this.#notManaged(input.id)
    const secret = this.#confidential(input) ? this.#newSecret() : undefined
    const record = await this.#record(input, secret)
    const r = await this.#d.store.writeClient(
      { create: record },
      { events: [adminEvent(this.#d, actor, 'client_created', { clientId: record.id })] },
    )
    if (!r.ok) this.#refused(record.id, r)
    return this.#answer(record, secret)
  }

  /**
   * Replaces the client: omitted settings take their defaults, except `tokenEndpointAuthMethod`,
   * which keeps its current value so a replace never drops a secret by omission. A client that
   * becomes confidential gets a new secret; one that stays confidential keeps its secret. New
   * lifetimes apply to sessions started afterwards, grace settings to live sessions at once.
   */
  async replace(actor: Actor, id: string, input: ClientInput): Promise<ClientWithSecret> {
    if (input.id !== undefined && input.id !== id) {
      throw new InvalidRequest('id: must be the id in the path (a client cannot be renamed)')
    }
    this.#notManaged(id)
    const current = await this.#find(id)
    const withMethod: ClientInput = {
      ...input,
      id,
      tokenEndpointAuthMethod: input.tokenEndpointAuthMethod ?? current.tokenEndpointAuthMethod,
    }
    const confidential = this.#confidential(withMethod)
    const secret = confidential && current.secretHash === null ? this.#newSecret() : undefined
    const record = await this.#record(
      withMethod,
      secret ?? (confidential ? 'x'.repeat(43) : undefined),
    )
    record.createdAt = current.createdAt
    if (confidential && secret === undefined) record.secretHash = current.secretHash
    const r = await this.#d.store.writeClient(
      { replace: record, expectedUpdatedAt: current.updatedAt },
      {
        events: [
          adminEvent(
            this.#d,
            actor,
            'client_updated',
            { clientId: id },
            {
              secretIssued: secret !== undefined,
            },
          ),
        ],
      },
    )
    if (!r.ok) this.#refused(id, r)
    return this.#answer(record, secret)
  }

  /** A new secret for a confidential client; the old one stops working at once. */
  async rotateSecret(actor: Actor, id: string): Promise<ClientWithSecret> {
    this.#notManaged(id)
    const current = await this.#find(id)
    if (current.secretHash === null) throw new Conflict(`client ${id} is public: it has no secret`)
    const secret = this.#newSecret()
    const record: ClientRecord = {
      ...current,
      secretHash: hashClientSecret(secret),
      updatedAt: this.#d.clock.now(),
    }
    const r = await this.#d.store.writeClient(
      { replace: record, expectedUpdatedAt: current.updatedAt },
      { events: [adminEvent(this.#d, actor, 'client_secret_rotated', { clientId: id })] },
    )
    if (!r.ok) this.#refused(id, r)
    return this.#answer(record, secret)
  }

  /** A write the store refused: gone, there already (a create), changed since it was read
   * (another admin), or naming an API deleted meanwhile. */
  #refused(id: string, r: Extract<AdminWriteResult, { ok: false }>): never {
    switch (r.reason) {
      case 'changed':
        throw new Conflict(`client ${id} was changed meanwhile; read it again and retry`)
      case 'exists':
        throw new Conflict(`client ${id} exists already`)
      case 'unknown_api':
        throw new Conflict(
          `audiences or resourceServerFor: ${r.audiences.join(', ')} names no API (deleted meanwhile?); read the APIs again and retry`,
        )
      default:
        throw new NotFound(`no client ${id}`)
    }
  }

  /** Deletes the client and revokes its sessions (reason `client_deleted`). */
  async delete(actor: Actor, id: string): Promise<{ id: string; sessionsRevoked: number }> {
    this.#notManaged(id)
    await this.#find(id)
    const r = await this.#d.store.writeClient(
      { delete: id },
      {
        revoke: revocation(this.#d, actor, 'client_deleted'),
        events: [adminEvent(this.#d, actor, 'client_deleted', { clientId: id })],
      },
    )
    if (!r.ok) throw new NotFound(`no client ${id}`)
    return { id, sessionsRevoked: r.endedSessionIds.length }
  }

  async #find(id: string): Promise<ClientRecord> {
    const c = await this.#d.store.getClient(id)
    if (!c) throw new NotFound(`no client ${id}`)
    return c
  }

  #notManaged(id: string | undefined): void {
    if (id !== undefined && this.#d.config.clients.some((c) => c.id === id)) {
      throw new Conflict(
        `client ${id} is declared in the configuration file, which is re-applied on every start; change it there`,
      )
    }
  }

  #confidential(input: ClientInput): boolean {
    return (input.tokenEndpointAuthMethod ?? 'none') !== 'none'
  }

  #newSecret(): string {
    return randomId(this.#d.random, 32)
  }

  async #record(input: ClientInput, secret: string | undefined): Promise<ClientRecord> {
    checkLengths(input, LISTS)
    const audiences = new Set((await this.#d.store.listApis()).map((a) => a.audience))
    const resolved = validateAs('client', () =>
      resolveClient(
        {
          ...input,
          tokenEndpointAuthMethod: input.tokenEndpointAuthMethod ?? 'none',
          ...(secret !== undefined ? { secret } : {}),
        },
        'client',
        audiences,
        { issuer: this.#d.config.issuer, dev: this.#d.config.dev },
      ),
    )
    return clientRecord(resolved, this.#d.clock.now())
  }

  #answer(record: ClientRecord, secret: string | undefined): ClientWithSecret {
    const client = clientView(record, this.#d.config)
    return secret === undefined ? { client } : { client, clientSecret: secret }
  }
}
