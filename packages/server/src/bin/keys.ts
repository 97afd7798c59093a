import type { SigningAlg, SigningKeyRecord } from '../store/types.js'
import { UsageError, isoTime, printRows } from './cli-io.js'
import { adminConfig } from './admin-config.js'
import { withAdminServer } from './admin-server.js'
import {
  CONFIG_HELP,
  CONFIG_OPTION,
  DEV_DATA_HELP,
  DEV_DATA_OPTION,
  flag,
  str,
  type Command,
} from './command.js'

export type KeyState = 'active' | 'next' | 'retired' | 'expired'

/**
 * The state of each key at `now`: `active` signs now (the newest key whose activation time has
 * come), `next` is published but signs later, `retired` no longer signs but is still published for
 * its tokens, `expired` has left the JWKS.
 */
export function keyStates(keys: readonly SigningKeyRecord[], now: number): Map<string, KeyState> {
  const out = new Map<string, KeyState>()
  let active: SigningKeyRecord | undefined
  for (const k of keys) {
    if (k.activatesAt > now || (k.expiresAt !== null && k.expiresAt <= now)) continue
    if (!active || k.activatesAt > active.activatesAt) active = k
  }
  for (const k of keys) {
    if (k.expiresAt !== null && k.expiresAt <= now) out.set(k.kid, 'expired')
    else if (k.activatesAt > now) out.set(k.kid, 'next')
    else if (k === active) out.set(k.kid, 'active')
    else out.set(k.kid, 'retired')
  }
  return out
}

const ALGS: SigningAlg[] = ['ES256', 'EdDSA', 'RS256']

export const keysRotateCommand: Command = {
  name: 'keys rotate',
  summary: 'Publish a new signing key; it signs after one JWKS cache lifetime',
  usage: '[--alg ES256|EdDSA|RS256] [--config FILE]',
  options: { ...CONFIG_OPTION, ...DEV_DATA_OPTION, alg: { type: 'string' } },
  help: [
    '      --alg ALG       Algorithm of the new key (default: the configured signingAlg)',
    CONFIG_HELP,
    DEV_DATA_HELP,
  ],
  async run(values, io) {
    const alg = str(values, 'alg')
    if (alg !== undefined && !ALGS.includes(alg as SigningAlg)) {
      throw new UsageError(`--alg must be one of ${ALGS.join(', ')}`)
    }
    const config = adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
    const rec = await withAdminServer(config, (s) =>
      s.ctx.keys.rotate(alg as SigningAlg | undefined),
    )
    io.stdout.write(
      [`kid: ${rec.kid}`, `alg: ${rec.alg}`, `activates: ${isoTime(rec.activatesAt)}`].join('\n') +
        '\n',
    )
    return 0
  },
}

export const keysListCommand: Command = {
  name: 'keys list',
  summary: 'List signing keys: kid, alg, state, activation, retirement and expiry',
  usage: '[--json] [--config FILE]',
  options: { ...CONFIG_OPTION, ...DEV_DATA_OPTION, json: { type: 'boolean' } },
  help: ['      --json          One JSON object per key', CONFIG_HELP, DEV_DATA_HELP],
  async run(values, io) {
    const config = adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
    const { keys, now } = await withAdminServer(config, async (s) => ({
      keys: await s.ctx.store.listSigningKeys(),
      now: s.ctx.clock.now(),
    }))
    keys.sort((a, b) => a.activatesAt - b.activatesAt)
    const states = keyStates(keys, now)
    const rows = keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      state: states.get(k.kid) ?? 'expired',
      activatesAt: k.activatesAt,
      retiresAt: k.retiredAt,
      expiresAt: k.expiresAt,
    }))
    printRows(
      io,
      flag(values, 'json'),
      rows,
      ['KID', 'ALG', 'STATE', 'ACTIVATES', 'RETIRES', 'EXPIRES'],
      (r) => [
        r.kid,
        r.alg,
        r.state,
        isoTime(r.activatesAt),
        isoTime(r.retiresAt),
        isoTime(r.expiresAt),
      ],
    )
    return 0
  },
}
