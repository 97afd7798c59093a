import type { TesseraClient } from '@tessera/client'
import type { BiometricGate } from '@tessera/react-native'

/** What the screens need from the platform's set-up (`tessera.ts` on the web, `.native.ts`). */
export interface TesseraApp {
  platform: 'web' | 'native'
  client: TesseraClient
  /** The biometric gate; null on the web, which has no biometrics. */
  gate: BiometricGate | null
  /** Starts the sign-in: `redirected` when the page leaves for the hosted sign-in (web),
   * `signed-in` when the session is there (native, system browser). */
  signIn(returnTo: string): Promise<'redirected' | 'signed-in'>
  /** On the web's /callback: finishes the sign-in and gives its `returnTo`. */
  finishRedirect(): Promise<string | null>
  /** User input, for the idle timeout. */
  activity: () => void
}
