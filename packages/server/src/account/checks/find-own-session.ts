import { InvalidRequest, NotFound } from '../../oauth/errors.js'
import type { AccountCheck } from '../account-request.js'

/** Session ids are 128 random bits in base64url (22 characters); leave room for longer ones. */
const SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/

/**
 * The session named in the path, if it is the caller's. Another user's session and one that does
 * not exist get the same 404, so ids cannot be probed.
 */
export const findOwnSession: AccountCheck = async (r, ctx) => {
  const id = (r.req.params as { id?: unknown }).id
  if (typeof id !== 'string' || !SESSION_ID.test(id)) {
    throw new InvalidRequest('the session id is malformed')
  }
  const s = await ctx.store.getSession(id)
  if (!s || s.userId !== r.user?.id) {
    throw new NotFound('no such session', s ? 'session of another user' : 'unknown session')
  }
  r.target = s
}
