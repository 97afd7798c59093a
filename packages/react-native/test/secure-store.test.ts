import { storageConformance } from '../../client/test/storage-conformance.js'
import { secureStoreStorage } from '../src/index.js'
import { FakeSecureStore } from './stand-ins/secure-store.js'

/** A stored session of about 3.5 kB with multi-byte text in its claims (APP-07). */
function bigSession(tag: string): string {
  return JSON.stringify({
    refreshToken: 'tsr_' + tag.repeat(40),
    claims: { name: 'Zoë Ångström 東京 🚀', tag },
    tokens: {
      a: 'eyJ' + 'é'.repeat(1100) + tag,
      b: 'eyJ' + '東'.repeat(300) + '🚀'.repeat(100) + tag,
    },
  })
}

describe('the expo-secure-store stand-in', () => {
  it('checks keys and values with the module’s own messages', async () => {
    const s = new FakeSecureStore()
    await expect(s.setItemAsync('bad key', 'x')).rejects.toThrow(
      'Invalid key provided to SecureStore. Keys must not be empty and contain only alphanumeric characters, ".", "-", and "_".',
    )
    await expect(s.setItemAsync('k', 1 as unknown as string)).rejects.toThrow(
      'Invalid value provided to SecureStore. Values must be strings; consider JSON-encoding your values if they are serializable.',
    )
    await expect(s.getItemAsync('missing')).resolves.toBeNull()
    await expect(s.deleteItemAsync('missing')).resolves.toBeUndefined()
  })

  it('refuses values over 2,048 UTF-8 bytes (not UTF-16 units)', async () => {
    const s = new FakeSecureStore()
    await s.setItemAsync('k', 'x'.repeat(2048))
    await expect(s.setItemAsync('k', 'é'.repeat(1025))).rejects.toMatchObject({
      code: 'ERR_WRITE',
    })
    expect(await s.getItemAsync('k')).toBe('x'.repeat(2048))
  })

  it('is locked until the first unlock (iOS errSecInteractionNotAllowed)', async () => {
    const s = new FakeSecureStore()
    await s.setItemAsync('k', 'v')
    s.lockUntilFirstUnlock()
    await expect(s.getItemAsync('k')).rejects.toMatchObject({
      code: 'ERR_KEY_CHAIN',
      message: 'User interaction is not allowed.',
    })
    s.unlock()
    expect(await s.getItemAsync('k')).toBe('v')
  })

  it('reports an item it cannot decrypt with ERR_DECRYPT; a new write replaces it', async () => {
    const s = new FakeSecureStore()
    await s.setItemAsync('k', 'v')
    s.corrupt('k')
    await expect(s.getItemAsync('k')).rejects.toMatchObject({ code: 'ERR_DECRYPT' })
    await s.setItemAsync('k', 'w')
    expect(await s.getItemAsync('k')).toBe('w')
  })

  it('prompts for a requireAuthentication item and reads it as null once the enrollment changed', async () => {
    const s = new FakeSecureStore()
    await s.setItemAsync('bio', 'k', { requireAuthentication: true })
    expect(await s.getItemAsync('bio')).toBe('k')
    expect(s.prompts).toBe(1)
    s.prompt = 'cancel'
    await expect(s.getItemAsync('bio')).rejects.toMatchObject({
      code: 'ERR_KEY_CHAIN',
      message: 'User canceled the operation.',
    })
    s.enrollmentChanged()
    expect(await s.relaunch().getItemAsync('bio')).toBeNull()
  })

  it('dies after the given number of writes and keeps the data for the next launch', async () => {
    const s = new FakeSecureStore()
    s.killAfterWrites(1)
    await s.setItemAsync('a', '1')
    await expect(s.setItemAsync('b', '2')).rejects.toMatchObject({ code: 'ERR_APP_KILLED' })
    await expect(s.getItemAsync('a')).rejects.toMatchObject({ code: 'ERR_APP_KILLED' })
    const next = s.relaunch()
    expect(await next.getItemAsync('a')).toBe('1')
    expect(await next.getItemAsync('b')).toBeNull()
  })
})

describe('secureStoreStorage', () => {
  it('SDK-05 meets the client’s storage conformance suite on the stand-in', async () => {
    const device = new FakeSecureStore()
    expect(await storageConformance(() => secureStoreStorage(device))).toEqual([])
  })

  it('APP-07 a 3.5 kB session with multi-byte text is cut into chunks under 2,048 bytes and read back byte-identical', async () => {
    const device = new FakeSecureStore()
    const storage = secureStoreStorage(device)
    const value = bigSession('A')
    expect(Buffer.byteLength(value)).toBeGreaterThan(3500)
    await storage.set('tessera.app.session', value)
    const chunks = device.keys().filter((k) => /\.a\.\d+$/.test(k) && k.includes('session'))
    expect(chunks.length).toBeGreaterThanOrEqual(2)
    for (const [, item] of device.data) {
      expect(Buffer.byteLength(item.value)).toBeLessThanOrEqual(2000)
      // Never a broken character: every chunk is valid UTF-8 on its own.
      expect(Buffer.from(item.value, 'utf8').toString('utf8')).toBe(item.value)
      expect(item.accessible).toBe(device.WHEN_UNLOCKED_THIS_DEVICE_ONLY)
    }
    expect(await secureStoreStorage(device.relaunch()).get('tessera.app.session')).toBe(value)
  })

  it('APP-07 chunks left over from a longer value are deleted', async () => {
    const device = new FakeSecureStore()
    const storage = secureStoreStorage(device)
    await storage.set('s', bigSession('L').repeat(3))
    const before = device.keys().length
    await storage.set('s', 'short')
    await storage.set('s', 'shorter')
    expect(await storage.get('s')).toBe('shorter')
    const names = device.keys().filter((k) => k.startsWith('tessera_ks.'))
    expect(names).toEqual(['tessera_ks.a.0', 'tessera_ks.m'])
    expect(device.keys().length).toBeLessThan(before)
  })

  it('APP-08 an app killed between two chunk writes reads back the previous whole value, at every point of the write', async () => {
    const old = bigSession('O')
    const next = bigSession('N') + bigSession('N')
    let points = 0
    for (let k = 0; ; k++) {
      const device = new FakeSecureStore()
      await secureStoreStorage(device).set('s', old)
      device.killAfterWrites(k)
      let finished = true
      await secureStoreStorage(device)
        .set('s', next)
        .catch(() => {
          finished = false
        })
      const read = await secureStoreStorage(device.relaunch()).get('s')
      if (finished) {
        expect(read).toBe(next)
        break
      }
      points++
      // Killed before the commit: the old value whole; after it: the new one whole. Never a mix.
      expect([old, next]).toContain(read)
      // And a later write on the relaunched app converges with no leftovers.
      const again = device.relaunch()
      await secureStoreStorage(again).set('s', 'final')
      expect(await secureStoreStorage(again).get('s')).toBe('final')
      expect(again.keys().filter((n) => n.startsWith('tessera_ks.'))).toEqual([
        expect.stringMatching(/^tessera_ks\.[ab]\.0$/),
        'tessera_ks.m',
      ])
    }
    // The write of `next` has at least 3 chunks and a marker: every kill point was tried.
    expect(points).toBeGreaterThanOrEqual(4)
  })

  it('APP-09 an item that cannot be decrypted is deleted with its record and reads as nothing', async () => {
    const device = new FakeSecureStore()
    const discarded: unknown[] = []
    const storage = secureStoreStorage(device, { onDiscard: (e) => discarded.push(e) })
    await storage.set('s', bigSession('D'))
    device.corrupt('tessera_ks.a.1')
    expect(await storage.get('s')).toBeNull()
    expect(discarded).toEqual([{ key: 's', cause: 'undecryptable' }])
    expect(device.keys().filter((k) => k.startsWith('tessera_ks.'))).toEqual([])
    // No loop: the next read finds nothing and asks nothing more of the store.
    expect(await storage.get('s')).toBeNull()
    expect(discarded).toHaveLength(1)
    await storage.set('s', 'fresh')
    expect(await storage.get('s')).toBe('fresh')
  })

  it('APP-09 a record whose marker does not match its chunks reads as nothing and is deleted', async () => {
    const device = new FakeSecureStore()
    const storage = secureStoreStorage(device)
    await storage.set('s', bigSession('T'))
    await device.setItemAsync('tessera_ks.a.0', 'tampered')
    expect(await storage.get('s')).toBeNull()
    expect(device.keys().filter((k) => k.startsWith('tessera_ks.'))).toEqual([])
  })

  it('a store locked until first unlock rejects with storage_unavailable and keeps the record', async () => {
    const device = new FakeSecureStore()
    const storage = secureStoreStorage(device)
    await storage.set('s', 'v')
    device.lockUntilFirstUnlock()
    await expect(storage.get('s')).rejects.toMatchObject({
      name: 'TesseraNativeError',
      code: 'storage_unavailable',
      message: 'secure store read failed',
    })
    device.unlock()
    expect(await storage.get('s')).toBe('v')
  })

  it('APP-12 clear() removes every item it wrote, chunks and markers of both slots included', async () => {
    const device = new FakeSecureStore()
    await device.setItemAsync('other-app-item', 'kept')
    const storage = secureStoreStorage(device)
    await storage.set('tessera.app.session', bigSession('X'))
    await storage.set('tessera.app.session', bigSession('Y'))
    await storage.set('tessera.app.transactions', '{"s":1}')
    await storage.clear()
    expect(device.keys()).toEqual(['other-app-item'])
    expect(await storage.get('tessera.app.session')).toBeNull()
  })

  it('refuses a chunk size over the 2,048-byte limit', () => {
    expect(() => secureStoreStorage(new FakeSecureStore(), { chunkBytes: 4096 })).toThrow(
      'chunkBytes must be an integer from 16 to 2048',
    )
  })
})
