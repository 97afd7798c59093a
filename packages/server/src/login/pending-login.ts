import type { ServerContext } from '../context.js'
import { param, type Params } from '../http/form.js'
import type { ClientRecord } from '../store/types.js'
import type { LoginTransaction, LoginTransactionCodec } from './login-transaction.js'

/** A sign-in form that can still be used: its sealed transaction, opened, and its client. */
export interface PendingLogin {
  sealed: string
  tx: LoginTransaction
  client: ClientRecord
}

/** The transaction named by the `tx` parameter and its client, or undefined when the form cannot
 * be used any more (forged, expired, client gone). */
export async function openPendingLogin(
  ctx: ServerContext,
  codec: LoginTransactionCodec,
  p: Params,
): Promise<PendingLogin | undefined> {
  const sealed = param(p, 'tx', 16_384)
  if (sealed === undefined) return undefined
  const tx = codec.open(sealed, ctx.clock.now())
  if (!tx) return undefined
  const clientId = tx.params.get('client_id')?.[0]
  const client = clientId === undefined ? undefined : await ctx.store.getClient(clientId)
  if (!client) return undefined
  return { sealed, tx, client }
}

/** The redirect URI the transaction's authorization request settled on (validated before it was
 * sealed): the request's own, or the client's only registered one. */
export function loginRedirectTarget(
  tx: LoginTransaction,
  client: ClientRecord,
): string | undefined {
  const requested = tx.params.get('redirect_uri')?.[0]
  if (requested !== undefined) return requested
  return client.redirectUris.length === 1 ? client.redirectUris[0] : undefined
}
