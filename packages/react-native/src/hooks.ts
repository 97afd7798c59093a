import { useSyncExternalStore } from 'react'
import type { BiometricGate, BiometricGateState } from './biometric-gate.js'

/**
 * The gate's state for a lock screen (`locked`, `authenticating`, `failures`, `retryAt`,
 * `biometryChanged`), re-rendering on every change.
 *
 * @example
 * const { locked, retryAt } = useBiometricGate(gate)
 * if (locked) return <LockScreen onUnlock={() => gate.unlock().catch(() => {})} retryAt={retryAt} />
 */
export function useBiometricGate(gate: BiometricGate): BiometricGateState {
  return useSyncExternalStore(gate.subscribe, gate.getState, gate.getState)
}
