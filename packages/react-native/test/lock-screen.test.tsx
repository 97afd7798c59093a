import { fireEvent, render, screen, waitFor } from '@testing-library/react-native'
import { Pressable, Text, View } from 'react-native'
import { ManualClock } from '../../client/test/helpers/clocks.js'
import { createBiometricGate, useBiometricGate, type BiometricGate } from '../src/index.js'
import { FakeLocalAuthentication } from './stand-ins/platform.js'

/** A lock screen as an app writes it with the hook. */
function LockScreen({ gate, now }: { gate: BiometricGate; now: () => number }) {
  const s = useBiometricGate(gate)
  if (!s.locked) return <Text>Home</Text>
  const wait = s.retryAt !== null && s.retryAt > now() ? Math.ceil((s.retryAt - now()) / 1000) : 0
  return (
    <View>
      <Text>Locked</Text>
      {s.authenticating ? <Text>Authenticating</Text> : null}
      {wait > 0 ? <Text>{`Try again in ${wait} s`}</Text> : null}
      <Pressable onPress={() => void gate.unlock().catch(() => {})} accessibilityRole="button">
        <Text>Unlock</Text>
      </Pressable>
    </View>
  )
}

function gateFor(auth: FakeLocalAuthentication, clock: ManualClock) {
  const snapshot = { locked: false, isSignedIn: true }
  return createBiometricGate({
    client: {
      getSnapshot: () => snapshot,
      subscribe: () => () => {},
      unlock: () => {},
      signOut: () => Promise.resolve(),
    },
    authenticator: auth,
    clock,
  })
}

describe('useBiometricGate on a React Native screen', () => {
  it('APP-11 three cancels show the backoff instead of a fourth prompt; no stuck "authenticating"', async () => {
    const clock = new ManualClock()
    const auth = new FakeLocalAuthentication()
    auth.script = ['user_cancel', 'user_cancel', 'user_cancel']
    const gate = gateFor(auth, clock)
    render(<LockScreen gate={gate} now={() => clock.now()} />)
    expect(screen.getByText('Locked')).toBeTruthy()
    for (let i = 0; i < 3; i++) {
      await clock.advance(60_000)
      fireEvent.press(screen.getByText('Unlock'))
      await waitFor(() => expect(gate.getState().failures).toBe(i + 1))
    }
    expect(screen.queryByText('Authenticating')).toBeNull()
    expect(screen.getByText('Try again in 4 s')).toBeTruthy()
    fireEvent.press(screen.getByText('Unlock'))
    await clock.advance(0)
    expect(auth.prompts).toBe(3)
    expect(screen.getByText('Locked')).toBeTruthy()
  })

  it('a successful prompt shows the app', async () => {
    const clock = new ManualClock()
    const auth = new FakeLocalAuthentication()
    const gate = gateFor(auth, clock)
    render(<LockScreen gate={gate} now={() => clock.now()} />)
    fireEvent.press(screen.getByText('Unlock'))
    expect(await screen.findByText('Home')).toBeTruthy()
    expect(auth.prompts).toBe(1)
  })
})
