/**
 * `biometricStepUp` against a real Tessera server (child process), with a software stand-in of
 * react-native-biometrics' device key (RSA 2048 and RS256 like the module; P-256 too): the key is
 * registered once, a step-up raises the server session (new auth_time, amr hwk + user) and the
 * next token carries it; a cancelled prompt, a key the server removed and a key the platform
 * invalidated after an enrollment change all fail closed.
 */
import { createTesseraClient, type TesseraClient } from '@tessera/client'
import { ShiftedClock } from '../../client/test/helpers/clocks.js'
import {
  biometricStepUp,
  hermesCrypto,
  secureStoreStorage,
  signInWithBrowser,
  TesseraNativeError,
} from '../src/index.js'
import { fakeExpoCrypto, startTesseraProcess, type TesseraProcess } from './helpers/tessera.js'
import { SoftwareBiometrics } from './stand-ins/biometrics.js'
import { FakeSecureStore } from './stand-ins/secure-store.js'

const REDIRECT = 'com.example.app:/callback'
let server: TesseraProcess
const clock = new ShiftedClock()

beforeAll(async () => {
  server = await startTesseraProcess()
}, 60_000)
afterAll(async () => {
  await server.close()
})

function claims(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? ''
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
}

async function signedIn(): Promise<{ client: TesseraClient; device: FakeSecureStore }> {
  const device = new FakeSecureStore()
  const client = createTesseraClient({
    issuer: server.issuer,
    clientId: 'native-app',
    redirectUri: REDIRECT,
    scope: 'openid offline_access account:sessions',
    apis: [{ baseUrl: server.api, audience: server.api, scope: 'orders' }],
    storage: secureStoreStorage(device),
    crypto: hermesCrypto(fakeExpoCrypto),
    clock,
    random: () => 0.5,
  })
  await client.whenLoaded()
  await signInWithBrowser(client, {
    browser: {
      openAuthSessionAsync: async (url: string) => ({
        type: 'success',
        url: await server.follow(new URL(url)),
      }),
    },
  })
  return { client, device }
}

function stepUpFor(client: TesseraClient, keys: SoftwareBiometrics, device: FakeSecureStore) {
  return biometricStepUp({
    client,
    keys,
    issuer: server.issuer,
    storage: secureStoreStorage(device, { keychainService: 'device-key' }),
    deviceName: 'Test phone',
    audiences: [server.api],
  })
}

const refusal = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (err) {
    if (!(err instanceof TesseraNativeError)) throw err
    return { code: err.code, reason: err.reason }
  }
  throw new Error('expected a refusal')
}

it('registers the device key once, raises the session after the prompt, and the next tokens carry it', async () => {
  const { client, device } = await signedIn()
  const keys = new SoftwareBiometrics()
  const bio = stepUpFor(client, keys, device)
  expect(await bio.isRegistered()).toBe(false)
  const id = await bio.register()
  expect(await bio.register()).toBe(id)
  expect(keys.created).toBe(1)

  const before = claims(await client.getToken())
  const apiBefore = claims(await client.getToken({ audience: server.api }))
  // Later on the server's clock, so the new auth_time differs from the sign-in's.
  await server.setClock(Date.now() + 30_000)
  const r = await bio.stepUp({ promptMessage: 'Confirm the transfer' })
  expect(keys.prompts).toEqual(['Confirm the transfer'])
  expect(r.amr).toEqual(expect.arrayContaining(['hwk', 'user']))
  expect(r.acr).toBe('urn:tessera:acr:mfa')
  expect(r.authTime).toBeGreaterThan(before.auth_time as number)

  const row = await server.session(before.sid as string)
  expect(row).toMatchObject({ amr: expect.arrayContaining(['hwk', 'user']) })
  const after = claims(await client.getToken())
  const apiAfter = claims(await client.getToken({ audience: server.api }))
  expect(after.auth_time).toBe(r.authTime)
  expect(apiAfter.auth_time).toBe(r.authTime)
  expect(apiAfter.auth_time).not.toBe(apiBefore.auth_time)
  expect(apiAfter.amr).toEqual(expect.arrayContaining(['hwk', 'user']))
  // One key for the device: a second step-up reuses it.
  await bio.stepUp()
  expect(keys.created).toBe(1)
})

it('a P-256 key (Secure Enclave style, ES256) works the same way', async () => {
  const { client, device } = await signedIn()
  const r = await stepUpFor(client, new SoftwareBiometrics({ ec: true }), device).stepUp()
  expect(r.amr).toEqual(expect.arrayContaining(['hwk', 'user']))
})

it('a cancelled prompt rejects with biometric_failed and raises nothing; the key stays', async () => {
  const { client, device } = await signedIn()
  const keys = new SoftwareBiometrics()
  const bio = stepUpFor(client, keys, device)
  await bio.register()
  keys.next = 'cancel'
  const sid = claims(await client.getToken()).sid as string
  expect(await refusal(bio.stepUp())).toEqual({ code: 'biometric_failed', reason: 'user_cancel' })
  expect((await server.session(sid))!.amr).not.toContain('hwk')
  expect(await bio.isRegistered()).toBe(true)
})

it('a key the server removed rejects with device_key_revoked and is forgotten here', async () => {
  const { client, device } = await signedIn()
  const keys = new SoftwareBiometrics()
  const bio = stepUpFor(client, keys, device)
  const id = await bio.register()
  const token = await client.getToken()
  const del = await fetch(`${server.issuer}/account/device-keys/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${token}` },
  })
  expect(del.status).toBe(204)
  expect(await refusal(bio.stepUp())).toEqual({
    code: 'device_key_revoked',
    reason: 'server_credential_revoked',
  })
  expect(await bio.isRegistered()).toBe(false)
  const [event] = await server.events('device_step_up_failure')
  expect(event!.data.reason).toBe('removed_device')
})

it('APP-10 after an enrollment change the key fails closed: biometry_changed, removed here and at the server', async () => {
  const { client, device } = await signedIn()
  const keys = new SoftwareBiometrics()
  const bio = stepUpFor(client, keys, device)
  const id = await bio.register()
  keys.changeEnrollment()
  const sid = claims(await client.getToken()).sid as string
  expect((await refusal(bio.stepUp())).code).toBe('biometry_changed')
  expect(await bio.isRegistered()).toBe(false)
  expect((await server.session(sid))!.amr).not.toContain('hwk')
  const list = await fetch(`${server.issuer}/account/device-keys`, {
    headers: { authorization: `Bearer ${await client.getToken()}` },
  })
  const body = (await list.json()) as { device_keys: { id: string }[] }
  expect(body.device_keys.map((k) => k.id)).not.toContain(id)
})
