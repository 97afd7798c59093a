import {
  useBiometricGate,
  type BiometricGate,
  type BiometricGateState,
} from '@tessera/react-native'
import { app } from './tessera'

const OPEN: BiometricGateState = {
  locked: false,
  authenticating: false,
  failures: 0,
  retryAt: null,
  biometryChanged: false,
}
const noGate: Pick<BiometricGate, 'getState' | 'subscribe'> = {
  getState: () => OPEN,
  subscribe: () => () => {},
}

/** The biometric gate's state; on the web, which has no biometrics, always open. */
export function useGateState(): BiometricGateState {
  return useBiometricGate((app.gate ?? noGate) as BiometricGate)
}
