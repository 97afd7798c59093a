/**
 * The sign-in screen the guard sends a signed-out user to, with `returnTo`. The web leaves for
 * the hosted sign-in page and comes back through /callback; native opens the system browser
 * (ASWebAuthenticationSession / Custom Tabs) and comes back with the session. `<AuthLoading>`,
 * `<SignedIn>` and `<SignedOut>` pick what to render.
 */
import {
  AuthLoading,
  SignedIn,
  SignedOut,
  TesseraNativeError,
  safeReturnTo,
} from '@tessera/react-native'
import { Redirect, useLocalSearchParams } from 'expo-router'
import { useState } from 'react'
import { Text, View } from 'react-native'
import { app } from '../src/tessera'
import { Button, Loading, styles } from '../src/ui'

export default function SignIn() {
  const params = useLocalSearchParams<{ returnTo?: string }>()
  // Only a path of this app: a crafted link cannot send the user elsewhere after sign-in.
  const returnTo = safeReturnTo(typeof params.returnTo === 'string' ? params.returnTo : null, '/')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  const signIn = async () => {
    setBusy(true)
    setError(null)
    try {
      // Native: resolves signed in, and <SignedIn> below goes to returnTo. Web: the page leaves.
      await app.signIn(returnTo)
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
    <>
      <AuthLoading>
        <Loading />
      </AuthLoading>
      <SignedIn>
        <Redirect href={returnTo} />
      </SignedIn>
      <SignedOut>
        <SignInForm busy={busy} error={error} onSignIn={() => void signIn()} />
      </SignedOut>
    </>
  )
}

function SignInForm(props: { busy: boolean; error: string | null; onSignIn: () => void }) {
  const { busy, error } = props
  return (
    <View style={styles.center}>
      <Text style={styles.heading}>Tessera example</Text>
      <Text style={styles.muted}>Sign in with the account `tessera dev` printed.</Text>
      <Button title="Sign in" testID="sign-in" disabled={busy} onPress={props.onSignIn} />
      {error !== null && (
        <Text style={styles.error} testID="sign-in-error">
          {error}
        </Text>
      )}
    </View>
  )
}
