/**
 * A pending session's task (the guard's `taskRoutes`): a session that must finish a step, such
 * as accepting new terms, before it is a full session. This screen reads the session as signed in
 * (`treatPendingAsSignedOut: false`); the other screens read it as signed out.
 */
import { useAuth, useSession } from '@tessera/react-native'
import { Redirect, useLocalSearchParams } from 'expo-router'
import { Text, View } from 'react-native'
import { Button, Loading, styles } from '../../src/ui'

export default function Task() {
  const { task } = useLocalSearchParams<{ task: string }>()
  const { isLoaded, isSignedIn, signOut } = useAuth({ treatPendingAsSignedOut: false })
  const { currentTask } = useSession()
  if (!isLoaded) return <Loading />
  if (!isSignedIn) return <Redirect href="/sign-in" />
  if (currentTask === null) return <Redirect href="/" />
  return (
    <View style={styles.center}>
      <Text style={styles.heading}>One more step: {task}</Text>
      <Text style={styles.muted}>
        Your session has a task to finish ({currentTask}) before the app opens. Finish it on the
        sign-in page, then sign in again.
      </Text>
      <Button title="Sign out" testID="sign-out" onPress={() => void signOut()} />
    </View>
  )
}
