import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import { afterEach, describe, expect, it } from 'vitest'
import { resolveConfig } from '../../src/config/resolve.js'
import { createTesseraServer } from '../../src/server.js'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { signInTokens } from '../helpers/grants.js'
import { TEST_SECRET, startTestServer, type TestServer } from '../helpers/test-server.js'
import { judge } from '../token/fixtures.js'

let t: TestServer | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

async function jwks(url: string): Promise<JSONWebKeySet> {
  return (await (await fetch(url + '/.well-known/jwks.json')).json()) as JSONWebKeySet
}

/** The introspection judgement (web-app is public: nobody may ask the endpoint, SES-12). */
async function introspect(_url: string, token: string): Promise<Record<string, unknown>> {
  return judge(t!, token)
}

describe('signing key rotation', () => {
  it('JWT-17 a new key is published one JWKS cache lifetime before it signs; the old one stays until its tokens expire, then is rejected', async () => {
    t = await startTestServer()
    const user = await t.createUser()
    const before = await signInTokens(t, user)
    const oldKid = decodeProtectedHeader(before.body.access_token).kid
    expect((await jwks(t.url)).keys.map((k) => k.kid)).toEqual([oldKid])

    const next = await t.server.ctx.keys.rotate()
    // Published at once, not yet signing.
    expect((await jwks(t.url)).keys.map((k) => k.kid).sort()).toEqual([oldKid, next.kid].sort())
    const during = await signInTokens(t, user)
    expect(decodeProtectedHeader(during.body.access_token).kid).toBe(oldKid)

    // One cache lifetime (300 s) later the new key signs; the old one is still published.
    t.clock.advance(300_000 - 1)
    expect(decodeProtectedHeader((await signInTokens(t, user)).body.access_token).kid).toBe(oldKid)
    t.clock.advance(1)
    const after = await signInTokens(t, user)
    expect(decodeProtectedHeader(after.body.access_token).kid).toBe(next.kid)
    const set = await jwks(t.url)
    expect(set.keys.map((k) => k.kid)).toContain(oldKid)
    // A token signed by the old key still verifies against the published set.
    await jwtVerify(during.body.access_token, createLocalJWKSet(set), {
      currentDate: new Date(t.clock.now()),
    })

    // After the longest token lifetime (3600 s ID token) + 60 s the old key leaves the JWKS, and
    // a token it signed no longer introspects active.
    t.clock.advance((3600 + 60) * 1000)
    const late = await jwks(t.url)
    expect(late.keys.map((k) => k.kid)).toEqual([next.kid])
    await expect(
      jwtVerify(during.body.access_token, createLocalJWKSet(late), {
        currentDate: new Date(t.clock.now() - 3600_000),
      }),
    ).rejects.toThrow(/no applicable key found|matching key/i)
    expect(await introspect(t.url, during.body.access_token)).toEqual({ active: false })
  })

  it('signing keys persist across restarts and are useless without the server secret', async () => {
    t = await startTestServer()
    const kids = (await jwks(t.url)).keys.map((k) => k.kid)
    const { dir, dbFile } = t
    await t.server.close()

    const store = new SqliteStore({ file: dbFile })
    const again = await createTesseraServer({
      config: resolveConfig({
        issuer: 'http://127.0.0.1:1',
        secret: TEST_SECRET,
        logLevel: 'silent',
      }),
      store,
    })
    expect(again.ctx.keys.publicJwks().keys.map((k) => k.kid)).toEqual(kids)
    await again.close()

    const wrong = new SqliteStore({ file: dbFile })
    await expect(
      createTesseraServer({
        config: resolveConfig({
          issuer: 'http://127.0.0.1:1',
          secret: 'another-secret-another-secret-another-secret',
          logLevel: 'silent',
        }),
        store: wrong,
      }),
    ).rejects.toThrow(/none of the configured secrets is the one they were created with/)
    await wrong.close()
    // the private key material is stored encrypted, never as a plain JWK
    const raw = new SqliteStore({ file: dbFile })
    const [rec] = await raw.listSigningKeys()
    expect(rec!.privateJwkEnc).not.toMatch(/"d"/)
    expect(Buffer.from(rec!.privateJwkEnc, 'base64url').toString('utf8')).not.toMatch(/"d"\s*:/)
    await raw.close()
    t = undefined
    const { rmSync } = await import('node:fs')
    rmSync(dir, { recursive: true, force: true })
  })
})
