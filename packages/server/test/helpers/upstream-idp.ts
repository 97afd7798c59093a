/**
 * An upstream OpenID provider for the "Sign in with ..." tests: `oidc-provider` (an independent,
 * certified implementation) on 127.0.0.1 with its development login page, where any password is
 * accepted and the login name is the account's `sub`. Accounts and their email claims are set by
 * the test (`accounts`).
 *
 * Listening comes first (Tessera's configuration needs the issuer), the provider second (its client
 * needs Tessera's callback URL): `listen()`, start Tessera, then `serve(callbackUrl)`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import { expect } from 'vitest'
import { browserFetch, CookieJar, formFields } from './oauth-flow.js'

export const UPSTREAM_CLIENT_ID = 'tessera'
export const UPSTREAM_CLIENT_SECRET = 'upstream-client-secret-0123456789abcdef'

export interface UpstreamAccount {
  email?: string
  email_verified?: boolean
  name?: string
}

export class UpstreamIdp {
  readonly accounts = new Map<string, UpstreamAccount>()
  issuer = ''
  #server: Server | undefined
  #handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined

  async listen(): Promise<this> {
    this.#server = createServer((req, res) => {
      if (this.#handler) this.#handler(req, res)
      else res.writeHead(503).end()
    })
    await new Promise<void>((r) => this.#server!.listen(0, '127.0.0.1', r))
    const addr = this.#server.address()
    this.issuer = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
    return this
  }

  /** Starts answering as a provider whose one client is Tessera at `callbackUrl`. */
  async serve(callbackUrl: string): Promise<void> {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true })
    const jwk = { ...(await exportJWK(privateKey)), kid: 'up1', alg: 'RS256', use: 'sig' }
    const provider = new Provider(this.issuer, {
      clients: [
        {
          client_id: UPSTREAM_CLIENT_ID,
          client_secret: UPSTREAM_CLIENT_SECRET,
          redirect_uris: [callbackUrl],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: ['upstream-cookie-key-0123456789abcdef'] },
      scopes: ['openid', 'email', 'profile'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // The email claims in the ID token itself, as many providers (Google, Microsoft) send them.
      conformIdTokenClaims: false,
      findAccount: (_ctx, sub) => {
        const a = this.accounts.get(sub)
        return Promise.resolve(
          a && { accountId: sub, claims: () => Promise.resolve({ sub, ...a }) },
        )
      },
    })
    this.#handler = provider.callback()
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()))
  }
}

/**
 * Follows the provider's development login (as `login`) and consent pages like a browser, from
 * its authorization URL to the redirect back to `callbackUrl`; returns that URL.
 */
export async function followUpstream(
  start: string,
  login: string,
  callbackUrl: string,
): Promise<URL> {
  const jar = new CookieJar()
  let url = start
  let res = await browserFetch(jar, url)
  for (let step = 0; step < 20; step++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location')!, url)
      if (loc.href.startsWith(callbackUrl)) return loc
      url = loc.href
      res = await browserFetch(jar, url)
      continue
    }
    const html = await res.text()
    expect(res.status, html.replace(/<[^>]+>/g, ' ').slice(0, 300)).toBe(200)
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    expect(action).toBeTruthy()
    const fields = formFields(html)
    if (html.includes('name="login"')) {
      fields.login = login
      fields.password = 'any password'
    }
    url = new URL(action!.replace(/&amp;/g, '&'), url).href
    res = await browserFetch(jar, url, { form: fields })
  }
  throw new Error('too many interaction steps')
}
