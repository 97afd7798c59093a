/**
 * The redirect URI's route. On the web, the hosted sign-in comes back here: the client checks
 * `state` and `iss`, redeems the code once, and the app goes to `returnTo`. On native the system
 * browser hands the redirect to the sign-in call itself; Expo Router may still open this route
 * from the deep link, and it only leaves.
 */
import { safeReturnTo } from '@tessera/react-native'
import { useRouter } from 'expo-router'
import { useEffect, useState } from 'react'
import { Text, View } from 'react-native'
import { app } from '../src/tessera'
import { Button, Loading, styles } from '../src/ui'

// One redemption per page load, whatever the effects do.
let finishing: Promise<string | null> | undefined

export default function Callback() {
  const router = useRouter()
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    finishing ??= app.finishRedirect()
    finishing.then(
      (returnTo) => router.replace(safeReturnTo(returnTo, '/')),
      (err: unknown) => setError(err instanceof Error ? err.message : String(err)),
    )
  }, [router])
  if (error === null) return <Loading label="Signing in…" />
  return (
    <View style={styles.center}>
      <Text style={styles.error} testID="callback-error">
        Sign-in failed: {error}
      </Text>
      <Button title="Back" testID="back" onPress={() => router.replace('/sign-in')} />
    </View>
  )
}
