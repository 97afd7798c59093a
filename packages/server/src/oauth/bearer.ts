import type { FastifyRequest } from 'fastify'
import type { ServerContext } from '../context.js'
import type { LiveAccessToken } from '../tokens/verify-own-token.js'
import { verifyDpopProof } from './dpop/dpop-proof.js'
import { boundJkt, dpopHeaderValues } from './dpop/dpop-request.js'
import { InvalidRequest, InvalidToken, OAuthError } from './errors.js'

/** The authorization scheme an access token came with. */
export type Scheme = 'Bearer' | 'DPoP'

/** An access token as the request presented it. */
export interface PresentedToken {
  scheme: Scheme
  token: string
}

/**
 * Adds the RFC 6750 3 / RFC 9449 7.1 challenge to an error of an endpoint protected by access
 * tokens: `WWW-Authenticate: <scheme> realm="tessera", error="...", error_description="..."`,
 * plus any extra auth-params (RFC 9470's `max_age`, say). A DPoP challenge also lists the
 * accepted proof algorithms.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-3
 * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
 */
export function authChallenge<E extends OAuthError>(
  ctx: ServerContext,
  err: E,
  scheme: Scheme,
  params: Record<string, string> = {},
): E {
  const parts = [`${scheme} realm="tessera"`, `error="${err.error}"`]
  if (err.error !== 'invalid_request')
    parts.push(`error_description="${err.message.replace(/"/g, "'")}"`)
  for (const [k, v] of Object.entries(params)) parts.push(`${k}=${v}`)
  if (scheme === 'DPoP') parts.push(`algs="${ctx.config.dpop.algorithms.join(' ')}"`)
  err.headers['www-authenticate'] = parts.join(', ')
  return err
}

const TOKEN68 = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i

/**
 * The access token from the Authorization header (`Bearer` or `DPoP`) or, when `allowBody` (POST
 * forms, RFC 6750 2.2), the form body; never from the query string (TOK-02). A request without
 * any token gets a challenge offering both schemes, without an error code (RFC 6750 3.1).
 */
export function presentedToken(
  ctx: ServerContext,
  req: FastifyRequest,
  opts: { allowBody?: boolean } = {},
): PresentedToken {
  const q = req.url.indexOf('?')
  if (q >= 0 && new URLSearchParams(req.url.slice(q + 1)).has('access_token')) {
    throw authChallenge(
      ctx,
      new InvalidRequest('the access token must not be sent in the URL'),
      'Bearer',
    )
  }
  const h = req.headers.authorization
  const fromBody =
    opts.allowBody && req.body instanceof Map
      ? (req.body.get('access_token') as string[] | undefined)
      : undefined
  if (typeof h === 'string' && fromBody)
    throw authChallenge(ctx, new InvalidRequest('send the access token once'), 'Bearer')
  if (typeof h === 'string') {
    const m = TOKEN68.exec(h.trim())
    if (!m) {
      throw authChallenge(
        ctx,
        new InvalidToken('the Authorization header is not a Bearer or DPoP token'),
        'Bearer',
      )
    }
    const scheme: Scheme = (m[1] as string).toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer'
    return { scheme, token: m[2] as string }
  }
  if (fromBody?.length === 1 && fromBody[0]) return { scheme: 'Bearer', token: fromBody[0] }
  const e = new InvalidToken('an access token is required')
  e.headers['www-authenticate'] =
    `Bearer realm="tessera", DPoP realm="tessera", algs="${ctx.config.dpop.algorithms.join(' ')}"`
  throw e
}

/**
 * The sender constraint of a verified access token (RFC 9449 7): a DPoP-bound token (`cnf.jkt`)
 * is accepted only with the `DPoP` scheme and a proof of its key for this request (`htm`, `htu`,
 * `ath`); presented as a bearer token it is refused (7.2), and so is an unbound token presented
 * with the `DPoP` scheme. Errors carry the challenge of the scheme the token needs.
 *
 * @param url The endpoint's public URL (issuer + path, no query): the proof's `htu`.
 */
export async function checkSenderConstraint(
  ctx: ServerContext,
  req: FastifyRequest,
  live: LiveAccessToken,
  presented: PresentedToken,
  url: string,
): Promise<void> {
  const jkt = boundJkt(live.claims)
  if (jkt !== undefined && presented.scheme === 'Bearer') {
    throw authChallenge(
      ctx,
      new InvalidToken('the access token is DPoP-bound: send it with the DPoP scheme'),
      'DPoP',
    )
  }
  if (jkt === undefined && presented.scheme === 'DPoP') {
    throw authChallenge(
      ctx,
      new InvalidToken('the access token is not DPoP-bound: send it with the Bearer scheme'),
      'DPoP',
    )
  }
  if (jkt === undefined) return
  try {
    await verifyDpopProof(ctx, {
      values: dpopHeaderValues(req),
      method: req.method,
      url,
      accessToken: presented.token,
      boundJkt: jkt,
      status: 401,
    })
  } catch (err) {
    throw err instanceof OAuthError ? authChallenge(ctx, err, 'DPoP') : err
  }
}
