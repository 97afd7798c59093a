import { param } from '../../../http/form.js'
import { InvalidRequest } from '../../errors.js'
import type { AuthorizeCheck } from '../authorize-check.js'

/** An unknown client gets a page, never a redirect (RDR-05, RFC 6749 4.1.2.1). */
export const checkClient: AuthorizeCheck = async (r, ctx) => {
  const id = param(r.params, 'client_id')
  if (id === undefined) throw new InvalidRequest('missing required parameter client_id')
  const client = await ctx.store.getClient(id)
  if (!client) throw new InvalidRequest('client_id does not name a registered client')
  r.client = client
}
