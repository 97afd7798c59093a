import type { LifecycleEvent } from '@tessera/client'
import { expoNetworkSource, reactNativeLifecycle, type NetworkStateLike } from '../src/index.js'
import { FakeAppState, FakeNetInfo } from './stand-ins/platform.js'

const settle = () => new Promise((r) => setImmediate(r))

describe('reactNativeLifecycle', () => {
  it('maps AppState: background, then active is one foreground; inactive alone (a system prompt) is neither', () => {
    const appState = new FakeAppState()
    const lc = reactNativeLifecycle({ appState })
    const events: LifecycleEvent[] = []
    const off = lc.subscribe((e) => events.push(e))
    appState.set('inactive') // Face ID prompt
    appState.set('active')
    expect(events).toEqual([])
    expect(lc.isForeground!()).toBe(true)
    appState.set('inactive')
    appState.set('background')
    expect(lc.isForeground!()).toBe(false)
    appState.set('inactive')
    appState.set('active')
    expect(events).toEqual(['background', 'foreground'])
    off()
    expect(appState.listeners()).toBe(0)
  })

  it('maps NetInfo: offline when not connected or known unreachable; unknown counts as online', async () => {
    const appState = new FakeAppState()
    const netInfo = new FakeNetInfo()
    const lc = reactNativeLifecycle({ appState, netInfo })
    const events: LifecycleEvent[] = []
    lc.subscribe((e) => events.push(e))
    await settle()
    expect(lc.isOnline!()).toBe(true)
    netInfo.set(true, null)
    expect(events).toEqual([])
    netInfo.set(true, false)
    expect(lc.isOnline!()).toBe(false)
    netInfo.set(false, false)
    netInfo.set(true, true)
    expect(events).toEqual(['offline', 'online'])
  })

  it('an app started offline reports offline from NetInfo’s first answer', async () => {
    const netInfo = new FakeNetInfo()
    netInfo.state = { isConnected: false, isInternetReachable: false }
    const lc = reactNativeLifecycle({ appState: new FakeAppState(), netInfo })
    const events: LifecycleEvent[] = []
    lc.subscribe((e) => events.push(e))
    await settle()
    expect(events).toEqual(['offline'])
    expect(lc.isOnline!()).toBe(false)
  })

  it('activity() reaches the client at most once a second', () => {
    const lc = reactNativeLifecycle({ appState: new FakeAppState() })
    const events: LifecycleEvent[] = []
    lc.subscribe((e) => events.push(e))
    lc.activity()
    lc.activity()
    expect(events).toEqual(['activity'])
  })

  it('expoNetworkSource gives expo-network the shape of NetInfo', async () => {
    let listener: ((s: NetworkStateLike) => void) | undefined
    let removed = false
    const network = {
      addNetworkStateListener(l: (s: NetworkStateLike) => void) {
        listener = l
        return { remove: () => (removed = true) }
      },
      getNetworkStateAsync: () =>
        Promise.resolve({ isConnected: false, isInternetReachable: false }),
    }
    const lc = reactNativeLifecycle({
      appState: new FakeAppState(),
      netInfo: expoNetworkSource(network),
    })
    const events: LifecycleEvent[] = []
    const off = lc.subscribe((e) => events.push(e))
    await settle()
    listener!({ isConnected: true, isInternetReachable: true })
    expect(events).toEqual(['offline', 'online'])
    off()
    expect(removed).toBe(true)
  })
})
