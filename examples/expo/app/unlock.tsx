/**
 * The biometric unlock screen: on launch with a stored session, and after the idle timeout. It
 * prompts once when it opens; failures and cancels back off (the gate refuses to prompt until
 * `retryAt`), so the user is never caught in a prompt loop; sign-out is always offered. When the
 * enrolled biometrics changed, the gate has ended the session: the user signs in again. On the web
 * there are no biometrics: the screen says so and leads home.
 */
import { TesseraNativeError, useAuth, type BiometricGate } from '@tessera/react-native'
import { Redirect, useRouter } from 'expo-router'
import { useEffect, useState } from 'react'
import { Text, View } from 'react-native'
import { useGateState } from '../src/gate'
import { app } from '../src/tessera'
import { Button, Loading, styles } from '../src/ui'

function GateScreen({ gate }: { gate: BiometricGate }) {
  const state = useGateState()
  const { isLoaded, isSignedIn, signOut } = useAuth()
  const [message, setMessage] = useState<string | null>(null)
  const [now, setNow] = useState(() => Date.now())

  const unlock = () =>
    gate.unlock().then(
      () => setMessage(null),
      (err: unknown) => {
        if (err instanceof TesseraNativeError && err.code === 'biometric_backoff') {
          setMessage('Too many attempts: wait a moment.')
        } else if (err instanceof TesseraNativeError && err.code === 'biometry_changed') {
          setMessage('Your biometrics changed: sign in again.')
        } else {
          setMessage('Not unlocked.')
        }
      },
    )

  useEffect(() => {
    if (isSignedIn && state.locked) void unlock()
    // once per visit: the gate's backoff guards any later attempt
  }, [isSignedIn])

  useEffect(() => {
    if (state.retryAt === null) return
    const t = setInterval(() => setNow(Date.now()), 500)
    return () => clearInterval(t)
  }, [state.retryAt])

  if (!isLoaded) return <Loading />
  if (!isSignedIn) return <Redirect href="/sign-in" />
  if (!state.locked) return <Redirect href="/" />
  const wait = state.retryAt === null ? 0 : Math.max(0, Math.ceil((state.retryAt - now) / 1000))
  return (
    <View style={styles.center}>
      <Text style={styles.heading}>Locked</Text>
      <Text style={styles.muted}>
        Unlock with Face ID, Touch ID, a fingerprint or the passcode.
      </Text>
      <Button
        title={wait > 0 ? `Try again in ${wait} s` : 'Unlock'}
        testID="unlock"
        disabled={state.authenticating || wait > 0}
        onPress={() => void unlock()}
      />
      {state.failures > 0 && <Text style={styles.muted}>{state.failures} failed in a row</Text>}
      {message !== null && <Text style={styles.error}>{message}</Text>}
      <Button title="Sign out" testID="sign-out" onPress={() => void signOut()} />
    </View>
  )
}

function NoBiometrics() {
  const router = useRouter()
  return (
    <View style={styles.center}>
      <Text style={styles.heading} testID="no-biometrics">
        No biometric unlock on the web
      </Text>
      <Text style={styles.muted}>
        Browsers have no Face ID or fingerprint prompt for apps: the session is never locked here.
      </Text>
      <Button title="Home" testID="home" onPress={() => router.replace('/')} />
    </View>
  )
}

export default function Unlock() {
  return app.gate ? <GateScreen gate={app.gate} /> : <NoBiometrics />
}
