/**
 * The root: the Tessera provider, the splash screen held until the session is loaded (never a
 * signed-out flash for a stored session), and the stack. While the biometric gate is locked the
 * signed-in screens are out of the stack (`Stack.Protected`), so the router shows the unlock screen.
 */
import { TesseraProvider, useAuth } from '@tessera/react-native'
import { Stack } from 'expo-router'
import * as SplashScreen from 'expo-splash-screen'
import { StatusBar } from 'expo-status-bar'
import { useEffect } from 'react'
import { View } from 'react-native'
import { useGateState } from '../src/gate'
import { app } from '../src/tessera'

void SplashScreen.preventAutoHideAsync()

function HoldSplashUntilLoaded() {
  const { isLoaded } = useAuth()
  useEffect(() => {
    if (isLoaded) void SplashScreen.hideAsync()
  }, [isLoaded])
  return null
}

function Screens() {
  const { locked } = useGateState()
  return (
    <Stack>
      <Stack.Protected guard={!locked}>
        <Stack.Screen name="(app)" options={{ title: 'Tessera example' }} />
      </Stack.Protected>
      <Stack.Screen name="unlock" options={{ title: 'Unlock' }} />
      <Stack.Screen name="sign-in" options={{ title: 'Sign in' }} />
      <Stack.Screen name="callback" options={{ title: 'Signing in' }} />
      <Stack.Screen name="tasks/[task]" options={{ title: 'One more step' }} />
    </Stack>
  )
}

export default function RootLayout() {
  return (
    <TesseraProvider client={app.client}>
      <HoldSplashUntilLoaded />
      {/* Any touch is activity for the idle timeout (native; the web client watches the page). */}
      <View style={{ flex: 1 }} onTouchStart={app.activity}>
        <Screens />
      </View>
      <StatusBar style="auto" />
    </TesseraProvider>
  )
}
