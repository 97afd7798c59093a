import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import { clientIp, userAgent } from '../http/request-info.js'
import type { ClientRecord, UserRecord } from '../store/types.js'

/**
 * The `verify-email` session task. A client that requires a verified address (its
 * `requireVerifiedEmail`, else the server-wide `accounts.requireVerifiedEmail`) gives a user
 * whose address is not verified a `pending` session with the task `verify-email`: no API access
 * tokens until the user follows the verification link, which activates every such session of the
 * user, on any browser or device. When a second factor is also wanted, `setup-mfa` comes first
 * (its completion hands the sessions on to `verify-email` while the address is still unverified).
 */

/** Whether the user's address counts as verified: proven by a link, or marked by an admin
 * (`metadata.email_verified`), as the `email_verified` claim says. */
export function emailVerified(user: UserRecord): boolean {
  return user.emailVerifiedAt !== null || user.metadata.email_verified === true
}

/** Whether sign-ins to `client` need a verified email address. */
export function verifiedEmailWanted(ctx: ServerContext, client: ClientRecord): boolean {
  return client.requireVerifiedEmail ?? ctx.config.accounts.requireVerifiedEmail
}

/**
 * The clients whose sessions must wait for `user`'s address to be verified: `'all'` when the
 * server-wide setting applies to every client that does not decide itself, else their ids; none
 * when the address is verified.
 */
export async function clientsAwaitingVerification(
  ctx: ServerContext,
  user: UserRecord,
): Promise<string[] | 'all'> {
  if (emailVerified(user)) return []
  const clients = await ctx.store.listClients()
  if (clients.every((c) => verifiedEmailWanted(ctx, c))) return 'all'
  return clients.filter((c) => verifiedEmailWanted(ctx, c)).map((c) => c.id)
}

/** Activates the user's pending `verify-email` sessions (every browser and device), with a
 * `session_task_completed` event each. Returns their ids. */
export async function completeVerifyEmailTask(
  ctx: ServerContext,
  req: FastifyRequest,
  userId: string,
): Promise<string[]> {
  const ip = clientIp(req, ctx.config.trustProxy)
  const ua = userAgent(req)
  return ctx.store.completeSessionTask({ userId, task: 'verify-email' }, (done) =>
    done.map((s) =>
      ctx.events.make('session_task_completed', {
        userId: s.userId,
        clientId: s.clientId,
        sessionId: s.id,
        ip,
        userAgent: ua,
        data: { task: 'verify-email', method: 'email_link' },
      }),
    ),
  )
}
