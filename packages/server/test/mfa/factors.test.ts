import { describe, expect, it } from 'vitest'
import { ACR_MFA, ACR_PWD, acrOf, hasSecondFactor } from '../../src/mfa/second-factor.js'
import { PASSKEY_AMR } from '../../src/passkeys/passkey-ceremony.js'

/**
 * Which sign-ins count as multi-factor for `requireMfa`, `acr_values=urn:tessera:acr:mfa` and the
 * `acr` claim: a password with a one-time code, and a passkey (a hardware-bound key unlocked by
 * user verification), which must not be sent on to a TOTP step or a `setup-mfa` task.
 */
describe('MFA-16 what counts as a second factor', () => {
  it.each<[string, string[], boolean]>([
    ['a password alone', ['pwd'], false],
    ['a password and a TOTP or recovery code', ['pwd', 'otp', 'mfa'], true],
    ['a passkey with user verification', PASSKEY_AMR, true],
    ['a hardware key without user verification', ['hwk'], false],
    ['user verification without a key', ['user'], false],
    ['nothing', [], false],
  ])('%s: %s', (_name, amr, multi) => {
    expect(hasSecondFactor(amr)).toBe(multi)
    expect(acrOf(amr)).toBe(multi ? ACR_MFA : ACR_PWD)
  })
})
