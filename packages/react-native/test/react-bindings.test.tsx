import { render, screen, waitFor } from '@testing-library/react-native'
import { Text } from 'react-native'
import { createTesseraClient, memoryStorage, type TesseraStorage } from '@tessera/client'
import { Protect, TesseraProvider, useAuth } from '../src/index.js'

/** Memory storage whose first read waits until the test lets it go (a slow Keychain at launch). */
function heldStorage(): { storage: TesseraStorage; release: () => void } {
  const inner = memoryStorage()
  let release!: () => void
  const gate = new Promise<void>((r) => (release = r))
  return {
    release,
    storage: {
      get: async (key) => {
        await gate
        return inner.get(key)
      },
      set: (key, value) => inner.set(key, value),
      remove: (key) => inner.remove(key),
    },
  }
}

function Status() {
  const { isLoaded, isSignedIn } = useAuth()
  return <Text>{`loaded:${String(isLoaded)} signedIn:${String(isSignedIn)}`}</Text>
}

describe('the React bindings re-exported by @tessera/react-native', () => {
  it('APP-15 on React Native: the guard shows the splash until loaded, then sends a signed-out user to sign-in with returnTo', async () => {
    const { storage, release } = heldStorage()
    const client = createTesseraClient({
      issuer: 'https://auth.example.com',
      clientId: 'app',
      redirectUri: 'com.example.app:/callback',
      storage,
      fetch: () => Promise.reject(new Error('no network in this test')),
    })
    const visits: string[] = []
    render(
      <TesseraProvider client={client}>
        <Status />
        <Protect
          fallback={<Text>Splash</Text>}
          navigate={(to) => visits.push(to)}
          signInRoute="/sign-in"
          returnTo="/orders"
        >
          <Text>Orders</Text>
        </Protect>
      </TesseraProvider>,
    )
    expect(screen.getByText('Splash')).toBeTruthy()
    expect(screen.getByText('loaded:false signedIn:undefined')).toBeTruthy()
    expect(screen.queryByText('Orders')).toBeNull()
    expect(visits).toEqual([])
    release()
    await waitFor(() => expect(screen.getByText('loaded:true signedIn:false')).toBeTruthy())
    await waitFor(() => expect(visits).toEqual(['/sign-in?returnTo=%2Forders']))
    expect(screen.queryByText('Orders')).toBeNull()
    client.dispose()
  })
})
