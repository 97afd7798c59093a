import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AccessTokenClaimsInput } from '../../src/tokens/token-issuer.js'
import type { UserRecord } from '../../src/store/types.js'
import { basicAuth, postForm, signInTokens } from '../helpers/grants.js'
import {
  API_A,
  API_B,
  CONFIDENTIAL_SECRET,
  startTestServer,
  type TestServer,
} from '../helpers/test-server.js'

const calls: AccessTokenClaimsInput[] = []
let t: TestServer
let alice: UserRecord

beforeAll(async () => {
  t = await startTestServer({
    hooks: {
      // The role Auth0 Actions play: claims per audience, from the user and the client.
      async accessTokenClaims(input) {
        calls.push(input)
        await new Promise((r) => setImmediate(r))
        if (input.api.audience === API_B) {
          return {
            permissions: input.user ? ['orders:read'] : ['orders:sync'],
            tenant: 'acme',
            // reserved claims cannot be overridden
            sub: 'attacker',
            aud: 'https://evil.example',
            scope: 'admin',
            iss: 'https://evil.example',
            exp: 9_999_999_999,
            sid: 'forged',
          }
        }
        return undefined
      },
    },
  })
  alice = await t.createUser('alice', 'correct horse battery', { roles: ['editor'], plan: 'pro' })
})
afterAll(async () => {
  await t.close()
})

const refresh = (rt: string, resource?: string) =>
  postForm(t.url + '/oauth/token', {
    grant_type: 'refresh_token',
    refresh_token: rt,
    client_id: 'web-app',
    ...(resource ? { resource } : {}),
  })

describe('per-API access-token claims', () => {
  it('the hook adds claims to the audience it names, and never overrides a reserved claim', async () => {
    const first = await signInTokens(t, alice, { scope: 'openid offline_access read orders' })
    const b = await refresh(first.body.refresh_token, API_B)
    expect(b.status).toBe(200)
    const claims = decodeJwt(b.body.access_token)
    expect(claims).toMatchObject({
      permissions: ['orders:read'],
      tenant: 'acme',
      sub: alice.id,
      aud: API_B,
      scope: 'orders',
      iss: t.url,
      client_id: 'web-app',
    })
    expect(claims.sid).toBe(decodeJwt(first.body.access_token).sid)
    expect(claims.exp).toBe(claims.iat! + 300)
    const last = calls.at(-1)!
    expect(last.api.audience).toBe(API_B)
    expect(last.client.id).toBe('web-app')
    expect(last.user?.id).toBe(alice.id)
    expect(last.scope).toBe('orders')
    expect(last.sessionId).toBe(claims.sid)
  })

  it("an API's userClaims copy user metadata keys into its tokens only", async () => {
    const first = await signInTokens(t, alice, { scope: 'openid offline_access read orders' })
    const a = decodeJwt((await refresh(first.body.refresh_token, API_A)).body.access_token)
    expect(a.roles).toEqual(['editor'])
    expect(a).not.toHaveProperty('plan')
    expect(a).not.toHaveProperty('tenant')
    const issuerToken = decodeJwt(first.body.access_token)
    expect(issuerToken).not.toHaveProperty('roles')
  })

  it('client_credentials tokens reach the hook without a user', async () => {
    const r = await postForm(
      t.url + '/oauth/token',
      { grant_type: 'client_credentials', resource: API_B },
      basicAuth('confidential-app', CONFIDENTIAL_SECRET),
    )
    expect(r.status).toBe(200)
    const claims = decodeJwt(r.body.access_token)
    expect(claims).toMatchObject({ permissions: ['orders:sync'], sub: 'confidential-app' })
    expect(claims).not.toHaveProperty('sid')
    expect(calls.at(-1)?.user).toBeUndefined()
  })
})
