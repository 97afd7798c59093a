/**
 * The sign-in screen the guard sends a signed-out user to, with `returnTo`. The web leaves for
 * the hosted sign-in page and comes back through /callback; native opens the system browser
 * (ASWebAuthenticationSession / Custom Tabs) and comes back with the session.
 */
import { TesseraNativeError, safeReturnTo, useAuth } from '@tessera/react-native'
import { Redirect, useLocalSearchParams, useRouter } from 'expo-router'
import { useState } from 'react'
import { Text, View } from 'react-native'
import { app } from '../src/tessera'
import { Button, Loading, styles } from '../src/ui'

export default function SignIn() {
  const params = useLocalSearchParams<{ returnTo?: string }>()
  // Only a path of this app: a crafted link cannot send the user elsewhere after sign-in.
  const returnTo = safeReturnTo(typeof params.returnTo === 'string' ? params.returnTo : null, '/')
  const { isLoaded, isSignedIn } = useAuth()
  const router = useRouter()
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  if (!isLoaded) return <Loading />
  if (isSignedIn) return <Redirect href={returnTo} />

  const signIn = async () => {
    setBusy(true)
    setError(null)
    try {
      if ((await app.signIn(returnTo)) === 'signed-in') router.replace(returnTo)
    } catch (err) {
      setBusy(false)
      if (err instanceof TesseraNativeError && err.code === 'sign_in_cancelled') {
        setError('Sign-in was cancelled.')
      } else {
        setError(`Sign-in failed: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }

  return (
    <View style={styles.center}>
      <Text style={styles.heading}>Tessera example</Text>
      <Text style={styles.muted}>Sign in with the account `tessera dev` printed.</Text>
      <Button title="Sign in" testID="sign-in" disabled={busy} onPress={() => void signIn()} />
      {error !== null && (
        <Text style={styles.error} testID="sign-in-error">
          {error}
        </Text>
      )}
    </View>
  )
}
