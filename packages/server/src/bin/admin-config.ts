import type { TesseraConfig } from '../config/config.js'
import { loadConfig } from '../config/load.js'
import { devConfig } from '../dev/dev-config.js'
import { cryptoRandom } from '../lib/random.js'
import type { CliIo } from './cli-io.js'

/** The configuration an admin command works on: the production one, or with `--dev` the data of
 * `tessera dev` in `./.tessera`. */
export function adminConfig(
  io: CliIo,
  values: { config?: string | undefined; dev?: boolean | undefined },
): TesseraConfig {
  if (values.dev) return devConfig({ cwd: io.cwd, random: cryptoRandom, env: io.env })
  return loadConfig({ file: values.config, env: io.env, cwd: io.cwd })
}
