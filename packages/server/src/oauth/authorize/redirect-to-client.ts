import type { FastifyReply } from 'fastify'
import type { ServerContext } from '../../context.js'
import { frontChannelHeaders } from '../../login/page.js'

/**
 * Sends the browser back to the client's redirect URI with `params` and `iss` (RFC 9207) added to
 * its query, keeping the registered query as it is. Always 303: after a POST the browser must not
 * resend the form (RDR-10, RFC 9700 4.12); after a GET it means the same as 302.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9207#section-2
 */
export function redirectToClient(
  ctx: ServerContext,
  reply: FastifyReply,
  redirectUri: string,
  params: Record<string, string | undefined>,
): FastifyReply {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.append(k, v)
  q.append('iss', ctx.config.issuer)
  const sep = !redirectUri.includes('?') ? '?' : /[?&]$/.test(redirectUri) ? '' : '&'
  return frontChannelHeaders(reply).code(303).header('location', `${redirectUri}${sep}${q}`).send()
}
