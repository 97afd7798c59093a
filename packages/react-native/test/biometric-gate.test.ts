import { ManualClock } from '../../client/test/helpers/clocks.js'
import {
  createBiometricGate,
  keychainBiometricKey,
  reactNativeBiometricsAuthenticator,
  secureStoreBiometricKey,
  TesseraNativeError,
  type GateClient,
} from '../src/index.js'
import { FakeKeychain } from './stand-ins/keychain.js'
import { FakeSecureStore } from './stand-ins/secure-store.js'
import { FakeLocalAuthentication } from './stand-ins/platform.js'
import { randomFillSync } from 'node:crypto'

/** The parts of a TesseraClient the gate uses, with the idle-timeout lock and sign-out. */
class Client implements GateClient {
  snapshot: { locked: boolean; isSignedIn: boolean; isLoaded?: boolean } = {
    locked: false,
    isSignedIn: true,
  }
  unlocks = 0
  signOuts = 0
  readonly #l = new Set<() => void>()
  getSnapshot = () => this.snapshot
  subscribe = (l: () => void) => {
    this.#l.add(l)
    return () => this.#l.delete(l)
  }
  unlock() {
    this.unlocks++
    this.update({ locked: false })
  }
  signOut() {
    this.signOuts++
    this.update({ isSignedIn: false, locked: false })
    return Promise.resolve()
  }
  update(patch: Partial<Client['snapshot']>) {
    this.snapshot = { ...this.snapshot, ...patch }
    for (const l of [...this.#l]) l()
  }
}

async function failure(p: Promise<unknown>): Promise<TesseraNativeError> {
  try {
    await p
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraNativeError)
    return e as TesseraNativeError
  }
  throw new Error('expected a rejection')
}

describe('createBiometricGate', () => {
  it('unlock on launch: a signed-in session starts locked and one successful prompt opens it', async () => {
    const client = new Client()
    const auth = new FakeLocalAuthentication()
    const gate = createBiometricGate({ client, authenticator: auth, promptMessage: 'Unlock' })
    expect(gate.getState().locked).toBe(true)
    await gate.unlock()
    expect(gate.getState()).toMatchObject({ locked: false, failures: 0, authenticating: false })
    expect(auth.lastOptions).toEqual({ promptMessage: 'Unlock', disableDeviceFallback: true })
  })

  it('unlock on launch locks a session loaded from storage, not one the user just signed in to', () => {
    const client = new Client()
    client.snapshot = { locked: false, isSignedIn: false, isLoaded: false }
    const gate = createBiometricGate({ client, authenticator: new FakeLocalAuthentication() })
    expect(gate.getState().locked).toBe(false)
    client.update({ isSignedIn: true, isLoaded: true })
    expect(gate.getState().locked).toBe(true)

    const fresh = new Client()
    fresh.snapshot = { locked: false, isSignedIn: false, isLoaded: false }
    const g2 = createBiometricGate({ client: fresh, authenticator: new FakeLocalAuthentication() })
    fresh.update({ isLoaded: true }) // nothing stored
    fresh.update({ isSignedIn: true }) // the user signs in
    expect(g2.getState().locked).toBe(false)
  })

  it('the device passcode fallback is offered only when allowed', async () => {
    const auth = new FakeLocalAuthentication()
    const gate = createBiometricGate({
      client: new Client(),
      authenticator: auth,
      allowDeviceCredential: true,
    })
    await gate.unlock()
    expect(auth.lastOptions).toEqual({ disableDeviceFallback: false })
  })

  it('APP-11 biometric cancel three times backs off: no fourth prompt until the delay passed, then one', async () => {
    const clock = new ManualClock()
    const auth = new FakeLocalAuthentication()
    auth.script = ['user_cancel', 'system_cancel', 'user_cancel']
    const gate = createBiometricGate({ client: new Client(), authenticator: auth, clock })
    for (const [i, reason] of ['user_cancel', 'system_cancel', 'user_cancel'].entries()) {
      const e = await failure(gate.unlock())
      expect(e).toMatchObject({ code: 'biometric_failed', reason })
      expect(gate.getState()).toMatchObject({
        locked: true,
        failures: i + 1,
        authenticating: false,
      })
      if (i < 2) await clock.advance(1000 * 2 ** i)
    }
    // Third failure in a row: 4 s before the next prompt.
    const e = await failure(gate.unlock())
    expect(e.code).toBe('biometric_backoff')
    expect(e.retryAfterMs).toBe(4000)
    await clock.advance(3999)
    expect((await failure(gate.unlock())).retryAfterMs).toBe(1)
    expect(auth.prompts).toBe(3)
    await clock.advance(1)
    await gate.unlock()
    expect(auth.prompts).toBe(4)
    expect(gate.getState()).toMatchObject({ locked: false, failures: 0, retryAt: null })
  })

  it('APP-11 the backoff is capped at maxMs', async () => {
    const clock = new ManualClock()
    const auth = new FakeLocalAuthentication()
    auth.script = Array(12).fill('authentication_failed')
    const gate = createBiometricGate({
      client: new Client(),
      authenticator: auth,
      clock,
      backoff: { baseMs: 1000, maxMs: 30_000 },
    })
    for (let i = 0; i < 8; i++) {
      await failure(gate.unlock())
      await clock.advance(gate.getState().retryAt! - clock.now())
    }
    await failure(gate.unlock())
    expect(gate.getState().retryAt! - clock.now()).toBe(30_000)
  })

  it('APP-11 a prompt that never settles times out, is dismissed, and a later prompt can start', async () => {
    const clock = new ManualClock()
    const auth = new FakeLocalAuthentication()
    auth.script = ['hang', 'success']
    const gate = createBiometricGate({
      client: new Client(),
      authenticator: auth,
      clock,
      promptTimeoutMs: 30_000,
    })
    const first = failure(gate.unlock())
    const second = gate.unlock() // shares the prompt: one prompt on screen
    const secondDone = second.catch((e: unknown) => e)
    await clock.advance(0)
    expect(gate.getState().authenticating).toBe(true)
    await clock.advance(30_000)
    expect(await first).toMatchObject({ code: 'biometric_failed', reason: 'timeout' })
    expect(await secondDone).toMatchObject({ reason: 'timeout' })
    expect(gate.getState().authenticating).toBe(false)
    expect(auth.prompts).toBe(1)
    await clock.advance(1000)
    await gate.unlock()
    expect(gate.getState().locked).toBe(false)
  })

  it('the client’s idleTimeout lock locks the gate, and unlocking the gate lifts it', async () => {
    const client = new Client()
    const gate = createBiometricGate({
      client,
      authenticator: new FakeLocalAuthentication(),
      lockOnLaunch: false,
    })
    expect(gate.getState().locked).toBe(false)
    client.update({ locked: true })
    expect(gate.getState().locked).toBe(true)
    await gate.unlock()
    expect(client.unlocks).toBe(1)
    expect(client.snapshot.locked).toBe(false)
  })

  it('APP-10 enrolled biometrics changed: the bound key is unreadable, deleted, the session ends, nothing unlocks', async () => {
    const keychain = new FakeKeychain()
    const random = (b: Uint8Array) => randomFillSync(b)
    const key = keychainBiometricKey(keychain, { random })
    await key.create()
    const client = new Client()
    const gate = createBiometricGate({ client, key })
    await gate.unlock()
    expect(keychain.prompts).toBe(1)
    gate.lock()
    keychain.enrollmentChanged()
    const e = await failure(gate.unlock())
    expect(e.code).toBe('biometry_changed')
    expect(client.signOuts).toBe(1)
    expect(client.unlocks).toBe(0)
    expect(gate.getState()).toMatchObject({ biometryChanged: true, locked: false })
    expect([...keychain.items.keys()]).toEqual([])
    // Never silently reused: a new key is made only after a full sign-in.
    expect(await key.read()).toBe('invalidated')
  })

  it('APP-10 with expo-secure-store: a requireAuthentication key invalidated by an enrollment change ends the session', async () => {
    const store = new FakeSecureStore()
    const key = secureStoreBiometricKey(store, { random: (b) => randomFillSync(b) })
    await key.create()
    const item = store.data.get('tessera-biometric|tessera-biometric-key')!
    expect(item).toMatchObject({ auth: true, accessible: store.WHEN_UNLOCKED_THIS_DEVICE_ONLY })
    const client = new Client()
    const clock = new ManualClock()
    const gate = createBiometricGate({ client, key, clock })
    store.prompt = 'cancel'
    expect(await failure(gate.unlock())).toMatchObject({
      code: 'biometric_failed',
      reason: 'user_cancel',
    })
    expect(client.signOuts).toBe(0)
    store.prompt = 'success'
    await clock.advance(1000)
    await gate.unlock()
    expect(gate.getState().locked).toBe(false)
    gate.lock()
    store.enrollmentChanged()
    expect(await failure(gate.unlock())).toMatchObject({ code: 'biometry_changed' })
    expect(client.signOuts).toBe(1)
    expect(client.unlocks).toBe(0)
    expect(store.keys()).toEqual([])
  })

  it('APP-11 a cancelled prompt of the bound key fails closed and backs off', async () => {
    const keychain = new FakeKeychain()
    const key = keychainBiometricKey(keychain, { random: (b) => randomFillSync(b) })
    await key.create()
    const client = new Client()
    const gate = createBiometricGate({ client, key, clock: new ManualClock() })
    keychain.prompt = 'cancel'
    expect(await failure(gate.unlock())).toMatchObject({
      code: 'biometric_failed',
      reason: 'user_cancel',
    })
    expect(gate.getState()).toMatchObject({ locked: true, failures: 1 })
    expect(client.signOuts).toBe(0)
    expect(keychain.items.size).toBe(2)
  })

  it('the compromised-device hook: the app’s policy decides, confirm() is refused before any prompt', async () => {
    const auth = new FakeLocalAuthentication()
    const seen: unknown[] = []
    const gate = createBiometricGate({
      client: new Client(),
      authenticator: auth,
      deviceIntegrity: {
        check: () => Promise.resolve({ compromised: true, reasons: ['jailbroken'] }),
      },
      compromisedPolicy: (r) => {
        seen.push(r)
        return 'refuse'
      },
    })
    expect(await failure(gate.confirm())).toMatchObject({ code: 'device_compromised' })
    expect(seen).toEqual([{ compromised: true, reasons: ['jailbroken'] }])
    expect(auth.prompts).toBe(0)
    const lenient = createBiometricGate({
      client: new Client(),
      authenticator: auth,
      deviceIntegrity: { check: () => Promise.resolve({ compromised: true }) },
      compromisedPolicy: () => 'allow',
    })
    await lenient.confirm()
    expect(auth.prompts).toBe(1)
  })

  it('react-native-biometrics fits through reactNativeBiometricsAuthenticator', async () => {
    const answers = [{ success: false, error: 'User cancellation' }, { success: true }]
    const rnb = { simplePrompt: () => Promise.resolve(answers.shift()!) }
    const gate = createBiometricGate({
      client: new Client(),
      authenticator: reactNativeBiometricsAuthenticator(rnb),
      clock: new ManualClock(),
      backoff: { baseMs: 0 },
    })
    expect(await failure(gate.unlock())).toMatchObject({ reason: 'user_cancel' })
    await gate.unlock()
    expect(gate.getState().locked).toBe(false)
  })
})
