import { storageConformance } from '../../client/test/storage-conformance.js'
import { keychainStorage } from '../src/index.js'
import { FakeKeychain } from './stand-ins/keychain.js'

describe('the react-native-keychain stand-in', () => {
  it('reads a missing item as false, prompts for a bound item, hides it after an enrollment change', async () => {
    const k = new FakeKeychain()
    expect(await k.getGenericPassword({ service: 'x' })).toBe(false)
    await k.setGenericPassword('u', 'p', { service: 'x', accessControl: 'BiometryCurrentSet' })
    expect(await k.getGenericPassword({ service: 'x' })).toMatchObject({ password: 'p' })
    expect(k.prompts).toBe(1)
    k.prompt = 'cancel'
    await expect(k.getGenericPassword({ service: 'x' })).rejects.toMatchObject({
      code: '-128',
      message: 'User canceled the operation.',
    })
    k.enrollmentChanged()
    expect(await k.getGenericPassword({ service: 'x' })).toBe(false)
  })

  it('rejects with errSecInteractionNotAllowed before the first unlock', async () => {
    const k = new FakeKeychain()
    k.lockUntilFirstUnlock()
    await expect(k.getGenericPassword({ service: 'x' })).rejects.toMatchObject({ code: '-25308' })
  })
})

describe('keychainStorage', () => {
  it('SDK-05 meets the client’s storage conformance suite on the stand-in', async () => {
    const device = new FakeKeychain()
    expect(await storageConformance(() => keychainStorage(device))).toEqual([])
  })

  it('SDK-05 also with BIOMETRY_CURRENT_SET access control', async () => {
    const device = new FakeKeychain()
    expect(
      await storageConformance(() => keychainStorage(device, { biometryCurrentSet: true })),
    ).toEqual([])
  })

  it('writes items WHEN_UNLOCKED_THIS_DEVICE_ONLY, without access control unless asked', async () => {
    const device = new FakeKeychain()
    await keychainStorage(device).set('s', 'v')
    expect(device.items.get('tessera:s')).toMatchObject({
      accessible: 'AccessibleWhenUnlockedThisDeviceOnly',
      accessControl: undefined,
    })
    await keychainStorage(device, { biometryCurrentSet: true }).set('b', 'v')
    expect(device.items.get('tessera:b')).toMatchObject({
      accessible: 'AccessibleWhenUnlockedThisDeviceOnly',
      accessControl: 'BiometryCurrentSet',
    })
  })

  it('APP-10 an item bound to biometrics whose enrollment changed reads as nothing, is deleted and reported', async () => {
    const device = new FakeKeychain()
    const invalidated: unknown[] = []
    const storage = keychainStorage(device, {
      biometryCurrentSet: true,
      onInvalidated: (e) => invalidated.push(e),
    })
    await storage.set('s', 'secret')
    device.enrollmentChanged()
    expect(await storage.get('s')).toBeNull()
    expect(invalidated).toEqual([{ key: 's' }])
    expect([...device.items.keys()]).toEqual([])
    expect(await storage.get('s')).toBeNull()
    expect(invalidated).toHaveLength(1)
  })

  it('APP-11 a cancelled prompt rejects with biometric_failed and keeps the item', async () => {
    const device = new FakeKeychain()
    const storage = keychainStorage(device, { biometryCurrentSet: true })
    await storage.set('s', 'secret')
    device.prompt = 'cancel'
    await expect(storage.get('s')).rejects.toMatchObject({
      code: 'biometric_failed',
      reason: 'user_cancel',
    })
    device.prompt = 'success'
    expect(await storage.get('s')).toBe('secret')
  })

  it('a locked keychain rejects with storage_unavailable', async () => {
    const device = new FakeKeychain()
    const storage = keychainStorage(device)
    await storage.set('s', 'v')
    device.lockUntilFirstUnlock()
    await expect(storage.get('s')).rejects.toMatchObject({ code: 'storage_unavailable' })
  })

  it('APP-12 clear() removes every item under its prefix and no other', async () => {
    const device = new FakeKeychain()
    await device.setGenericPassword('u', 'p', { service: 'other-app' })
    const storage = keychainStorage(device, { biometryCurrentSet: true })
    await storage.set('tessera.app.session', 'x')
    await storage.set('tessera.app.transactions', 'y')
    await storage.clear()
    expect([...device.items.keys()]).toEqual(['other-app'])
  })
})
