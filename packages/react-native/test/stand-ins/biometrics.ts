import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { DeviceKeyModule } from '../../src/index.js'

/**
 * react-native-biometrics' device key calls in software: `createKeys` makes an RSA 2048 key pair
 * (as the module does on iOS and Android; `ec: true` makes P-256, as a Secure Enclave module
 * would) and answers the public key as base64 SPKI; `createSignature` "prompts" (the next
 * outcome set by the test) and signs RS256 / ES256 DER, base64. After `changeEnrollment()` the key
 * is permanently invalidated, as Android's Keystore does (KeyPermanentlyInvalidatedException),
 * and signing rejects with the module's message.
 */
export class SoftwareBiometrics implements DeviceKeyModule {
  #key: KeyObject | undefined
  #invalidated = false
  next: 'success' | 'cancel' = 'success'
  prompts: string[] = []
  payloads: string[] = []
  created = 0

  constructor(private readonly o: { ec?: boolean } = {}) {}

  createKeys(): Promise<{ publicKey: string }> {
    const pair = this.o.ec
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
    this.#key = pair.privateKey
    this.#invalidated = false
    this.created++
    return Promise.resolve({
      publicKey: pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    })
  }

  createSignature(o: {
    promptMessage: string
    payload: string
  }): Promise<{ success: boolean; signature?: string; error?: string }> {
    this.prompts.push(o.promptMessage)
    if (!this.#key) return Promise.reject(new Error('Error signing payload: Key not found'))
    if (this.#invalidated) {
      return Promise.reject(
        new Error(
          'Error signing payload: android.security.keystore.KeyPermanentlyInvalidatedException: Key permanently invalidated',
        ),
      )
    }
    if (this.next === 'cancel')
      return Promise.resolve({ success: false, error: 'User cancellation' })
    this.payloads.push(o.payload)
    const signature = sign('sha256', Buffer.from(o.payload, 'utf8'), this.#key).toString('base64')
    return Promise.resolve({ success: true, signature })
  }

  deleteKeys(): Promise<{ keysDeleted: boolean }> {
    const had = this.#key !== undefined
    this.#key = undefined
    return Promise.resolve({ keysDeleted: had })
  }

  /** The user enrolled another fingerprint: the key can never sign again. */
  changeEnrollment(): void {
    this.#invalidated = true
  }
}
