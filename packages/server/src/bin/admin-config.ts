import type { TesseraConfig } from '../config/config.js'
import { loadConfig } from '../config/load.js'
import { devConfig } from '../dev/dev-config.js'
import { cryptoRandom } from '../lib/random.js'
import type { CliIo } from './cli-io.js'
import {
  CONFIG_HELP,
  CONFIG_OPTION,
  DEV_DATA_HELP,
  DEV_DATA_OPTION,
  flag,
  str,
  type Values,
} from './command.js'

/** The options every admin command takes: `--config FILE`, or `--dev` for the dev data. */
export const ADMIN_OPTIONS = { ...CONFIG_OPTION, ...DEV_DATA_OPTION } as const
export const ADMIN_OPTIONS_HELP = [CONFIG_HELP, DEV_DATA_HELP]

/** The options of a paged listing: `--limit N`, `--cursor C`, `--json`. */
export const LIST_OPTIONS = {
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean' },
} as const

/** Help lines of LIST_OPTIONS, for a listing of `things` (plural). */
export function listOptionsHelp(things: string): string[] {
  return [
    `      --limit N       At most N ${things} (default 100)`,
    '      --cursor C      The next page, as printed on stderr by the previous one',
    `      --json          One JSON object per ${things.replace(/s$/, '')}`,
  ]
}

/** The configuration an admin command works on: the production one, or with `--dev` the data of
 * `tessera dev` in `./.tessera`. */
export function adminConfig(
  io: CliIo,
  values: { config?: string | undefined; dev?: boolean | undefined },
): TesseraConfig {
  if (values.dev) return devConfig({ cwd: io.cwd, random: cryptoRandom, env: io.env })
  return loadConfig({ file: values.config, env: io.env, cwd: io.cwd })
}

/** adminConfig from a command's parsed ADMIN_OPTIONS. */
export function adminConfigOf(io: CliIo, values: Values): TesseraConfig {
  return adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
}
