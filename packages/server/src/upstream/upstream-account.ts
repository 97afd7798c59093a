/**
 * Which Tessera user an upstream identity signs in as:
 *
 * 1. a stored link (provider, upstream `sub`) names the user;
 * 2. else, when the upstream address belongs to a user here: linked at once only when both sides
 *    say it is verified (the upstream `email_verified: true`, and our user's `email_verified_at`
 *    set), otherwise the person must first sign in to that account to confirm the link;
 * 3. else a new user is created and linked.
 *
 * Linking on an unverified address would let whoever registers a victim's address at a lax
 * provider take over the victim's account here.
 *
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClaimStability
 */
import type { ServerContext } from '../context.js'
import type { UpstreamProvider } from '../config/config.js'
import { randomId } from '../lib/random.js'
import type { SecurityEventRecord, UpstreamLinkRecord, UserRecord } from '../store/types.js'
import { newUserRecord, USERNAME } from '../users/create-user.js'

/** The ID token claims that decide the account (already validated by openid-client). */
export interface UpstreamIdentity {
  sub: string
  email: string | undefined
  emailVerified: boolean
  name: string | undefined
}

export type UpstreamAccount =
  | { kind: 'user'; user: UserRecord; how: 'link' | 'verified_email' | 'new_user' }
  /** The address belongs to `email`'s account here, but is not verified on both sides. */
  | { kind: 'confirm'; email: string }
  /** The linked user is disabled or gone, or the link could not be stored. */
  | { kind: 'refused'; reason: 'disabled' | 'link_failed' }

export async function resolveUpstreamAccount(
  ctx: ServerContext,
  provider: UpstreamProvider,
  id: UpstreamIdentity,
  meta: { ip: string; userAgent: string | null },
): Promise<UpstreamAccount> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const link = await ctx.store.getUpstreamLink(provider.id, id.sub)
    if (link) {
      const user = await ctx.store.getUser(link.userId)
      if (!user || user.disabled) return { kind: 'refused', reason: 'disabled' }
      return { kind: 'user', user, how: 'link' }
    }
    const now = ctx.clock.now()
    const newLink: UpstreamLinkRecord = {
      providerId: provider.id,
      subject: id.sub,
      userId: '',
      createdAt: now,
    }
    const event = (userId: string, how: string): SecurityEventRecord =>
      ctx.events.make('upstream_linked', {
        userId,
        ip: meta.ip,
        userAgent: meta.userAgent,
        data: { provider: provider.id, how },
      })

    const owners = id.email === undefined ? [] : await ctx.store.getUsersByEmail(id.email)
    if (owners.length > 0 && id.email !== undefined) {
      const verified = id.emailVerified
        ? owners.find((u) => u.emailVerifiedAt !== null && !u.disabled)
        : undefined
      if (!verified) return { kind: 'confirm', email: id.email }
      if (
        await ctx.store.linkUpstream(
          { ...newLink, userId: verified.id },
          event(verified.id, 'verified_email'),
        )
      ) {
        return { kind: 'user', user: verified, how: 'verified_email' }
      }
      continue
    }

    const user = await newUpstreamUser(ctx, provider, id)
    if (
      await ctx.store.linkUpstream(
        { ...newLink, userId: user.id },
        event(user.id, 'new_user'),
        user,
      )
    ) {
      return { kind: 'user', user, how: 'new_user' }
    }
  }
  return { kind: 'refused', reason: 'link_failed' }
}

/** A user for a first upstream sign-in: username = the address when it is free and fits, else
 * `{provider}-{random}`; a random password nobody knows (they sign in upstream, or reset it). */
async function newUpstreamUser(
  ctx: ServerContext,
  provider: UpstreamProvider,
  id: UpstreamIdentity,
): Promise<UserRecord> {
  let username = `${provider.id}-${randomId(ctx.random, 9)}`
  if (
    id.email !== undefined &&
    USERNAME.test(id.email) &&
    !(await ctx.store.getUserByUsername(id.email))
  ) {
    username = id.email
  }
  const user = await newUserRecord(
    { clock: ctx.clock, random: ctx.random, passwordCost: ctx.config.passwordCost },
    {
      username,
      password: ctx.random.bytes(32).toString('base64url'),
      email: id.email ?? null,
      name: id.name ?? null,
    },
  )
  return id.emailVerified && id.email !== undefined
    ? { ...user, emailVerifiedAt: ctx.clock.now() }
    : user
}
