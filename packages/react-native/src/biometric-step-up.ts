import { messageOf, TesseraNativeError } from './errors.js'

/**
 * The device key calls of react-native-biometrics (an instance of `ReactNativeBiometrics`
 * satisfies it; a type test checks that): a key pair kept by the platform and usable only after
 * the biometric prompt. `createKeys` answers the public key as base64 SPKI DER;
 * `createSignature` prompts and signs `payload` (react-native-biometrics: RSA 2048, RS256; a
 * module keeping a P-256 key in the Secure Enclave / StrongBox signs ES256, DER or raw r||s).
 */
export interface DeviceKeyModule {
  createKeys(): Promise<{ publicKey: string }>
  createSignature(o: {
    promptMessage: string
    payload: string
    cancelButtonText?: string
  }): Promise<{ success: boolean; signature?: string; error?: string }>
  deleteKeys?(): Promise<{ keysDeleted: boolean }>
}

/** The client calls the step-up needs (a `TesseraClient` satisfies it). */
export interface StepUpClient {
  /** An access token for the issuer with the `account:sessions` scope. */
  getToken(o?: { audience?: string }): Promise<string>
  invalidateToken(accessToken: string): void
}

/** Where the device key's server id is kept (a `TesseraStorage`, e.g. `secureStoreStorage`). */
export interface DeviceKeyIdStorage {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
  remove(key: string): Promise<void>
}

export interface BiometricStepUpOptions {
  client: StepUpClient
  keys: DeviceKeyModule
  /** The Tessera issuer (the account API's origin). */
  issuer: string
  storage: DeviceKeyIdStorage
  /** The name the device key is registered under (`Alice's iPhone`). */
  deviceName: string
  /** The APIs whose cached access tokens are dropped after a step-up, so their next token carries
   * the new `auth_time`. The issuer's is always dropped. */
  audiences?: readonly string[]
  /** Storage key of the device key's id. Default `tessera-device-key`. */
  storageKey?: string
  /** Default `globalThis.fetch`. */
  fetch?: typeof fetch
}

export interface StepUpResult {
  /** The session's `amr` now (with `hwk` and `user`). */
  amr: string[]
  acr: string
  /** The new `auth_time`, seconds since the epoch. */
  authTime: number
}

export interface BiometricStepUp {
  /** Whether this device has a registered key (its id is stored). */
  isRegistered(): Promise<boolean>
  /** Makes the device key and registers its public key, once; later calls return the stored id. */
  register(): Promise<string>
  /** Prompts, signs the server's one-time challenge with the device key and raises the session:
   * the next access token has a new `auth_time` and `amr` with `hwk`. Registers first when no key
   * is. */
  stepUp(o?: { promptMessage?: string; cancelButtonText?: string }): Promise<StepUpResult>
  /** Removes the key here and at the server. */
  unregister(): Promise<void>
}

/** A signing failure that means the key is gone for good (Android
 * KeyPermanentlyInvalidatedException after an enrollment change, a deleted key). */
const INVALIDATED = /invalidat|permanently|not found|does not exist|doesn't exist|no key/i

/**
 * Server-verified biometric step-up over react-native-biometrics (or any `DeviceKeyModule`):
 * the app registers a device key once; a step-up asks the server for a one-time challenge bound
 * to the session and the key, signs it after the biometric prompt (the private key never leaves
 * the device) and sends the signature back; the server verifies it and raises the session.
 *
 * Fails closed: a key the platform invalidated (enrollment change) is deleted here and at the
 * server and the step-up rejects with `biometry_changed`; a key the server removed rejects with
 * `device_key_revoked`. A cancelled prompt rejects with `biometric_failed`.
 *
 * @example
 * import ReactNativeBiometrics from 'react-native-biometrics'
 * const bio = biometricStepUp({
 *   client, keys: new ReactNativeBiometrics(), issuer: 'https://auth.example.com',
 *   storage: secureStoreStorage(SecureStore), deviceName: 'My phone', audiences: [API],
 * })
 * await bio.stepUp({ promptMessage: 'Confirm the transfer' })
 * await client.fetch(`${API}/transfers`, { method: 'POST', body }) // a fresh auth_time
 */
export function biometricStepUp(o: BiometricStepUpOptions): BiometricStepUp {
  const storageKey = o.storageKey ?? 'tessera-device-key'
  const base = o.issuer.replace(/\/+$/, '')
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis)

  async function call(
    method: 'POST' | 'DELETE',
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const token = await o.client.getToken()
    const res = await doFetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    const text = await res.text()
    let json: Record<string, unknown> = {}
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {}
    } catch {
      // not JSON: the status says enough
    }
    return { status: res.status, json }
  }

  async function forget(): Promise<void> {
    await o.storage.remove(storageKey)
    await o.keys.deleteKeys?.().catch(() => undefined)
  }

  function refused(r: { status: number; json: Record<string, unknown> }, what: string): never {
    const error = typeof r.json.error === 'string' ? r.json.error : `http_${r.status}`
    const description =
      typeof r.json.error_description === 'string' ? r.json.error_description : what
    throw new TesseraNativeError('step_up_refused', `${what}: ${description}`, { reason: error })
  }

  async function revoked(): Promise<never> {
    await forget()
    throw new TesseraNativeError(
      'device_key_revoked',
      'the server removed this device key; register it again',
      { reason: 'server_credential_revoked' },
    )
  }

  async function register(): Promise<string> {
    const known = await o.storage.get(storageKey)
    if (known) return known
    const { publicKey } = await o.keys.createKeys()
    const r = await call('POST', '/account/device-keys', {
      name: o.deviceName,
      public_key: publicKey,
    })
    if (r.status !== 201 || typeof r.json.id !== 'string') refused(r, 'device key registration')
    await o.storage.set(storageKey, r.json.id)
    return r.json.id
  }

  async function sign(challenge: string, p: { promptMessage?: string; cancelButtonText?: string }) {
    let result: { success: boolean; signature?: string; error?: string }
    try {
      result = await o.keys.createSignature({
        promptMessage: p.promptMessage ?? 'Confirm it is you',
        payload: challenge,
        ...(p.cancelButtonText !== undefined ? { cancelButtonText: p.cancelButtonText } : {}),
      })
    } catch (err) {
      result = { success: false, error: messageOf(err) }
    }
    if (result.success && typeof result.signature === 'string') return result.signature
    const error = result.error ?? ''
    if (INVALIDATED.test(error)) return undefined
    const cancelled = /cancel/i.test(error)
    throw new TesseraNativeError(
      'biometric_failed',
      cancelled ? 'the biometric prompt was cancelled' : 'biometric authentication failed',
      { reason: cancelled ? 'user_cancel' : 'authentication_failed' },
    )
  }

  return {
    async isRegistered() {
      return (await o.storage.get(storageKey)) !== null
    },

    register,

    async stepUp(p = {}) {
      const id = await register()
      const c = await call('POST', '/account/step-up/challenge', { device_key_id: id })
      if (c.json.error === 'server_credential_revoked') return revoked()
      if (c.status !== 200 || typeof c.json.challenge !== 'string') refused(c, 'step-up challenge')
      const challenge = c.json.challenge
      const signature = await sign(challenge, p)
      if (signature === undefined) {
        // The platform invalidated the key (biometrics changed): fail closed, here and there.
        await call('DELETE', `/account/device-keys/${encodeURIComponent(id)}`).catch(
          () => undefined,
        )
        await forget()
        throw new TesseraNativeError(
          'biometry_changed',
          'the enrolled biometrics changed: the device key is gone; register it again',
        )
      }
      const token = await o.client.getToken()
      const r = await call('POST', '/account/step-up', { challenge, signature })
      if (r.json.error === 'server_credential_revoked') return revoked()
      if (r.status !== 200) refused(r, 'step-up')
      // The raised session shows in tokens from the next refresh: drop the cached ones.
      o.client.invalidateToken(token)
      for (const audience of o.audiences ?? []) {
        o.client.invalidateToken(await o.client.getToken({ audience }))
      }
      return {
        amr: Array.isArray(r.json.amr) ? (r.json.amr as string[]) : [],
        acr: typeof r.json.acr === 'string' ? r.json.acr : '',
        authTime: typeof r.json.auth_time === 'number' ? r.json.auth_time : 0,
      }
    },

    async unregister() {
      const id = await o.storage.get(storageKey)
      if (id) {
        const r = await call('DELETE', `/account/device-keys/${encodeURIComponent(id)}`)
        if (r.status !== 204 && r.status !== 404) refused(r, 'device key removal')
      }
      await forget()
    },
  }
}
