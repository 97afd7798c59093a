import { resolve } from 'node:path'
import type { TesseraConfig } from '../config/config.js'
import { loadConfigInput } from '../config/load.js'
import { resolveConfig } from '../config/resolve.js'
import type { Random } from '../lib/random.js'
import { DEMO_APIS, demoClient, demoShellClient } from './demo.js'
import { hashAdminKey } from '../admin/auth/admin-key-hash.js'
import { devAdminKey } from './dev-admin-key.js'
import { devSecret } from './dev-secret.js'

/** Where dev mode keeps its data, relative to the working directory. */
export const DEV_DIR = '.tessera'
export const DEV_PORT = 4000

export interface DevConfigOptions {
  /** Working directory; the data lives in `<cwd>/.tessera`. */
  cwd: string
  /** Default 4000. */
  port?: number
  /** Default `localhost`. */
  host?: string
  /** Default `http://localhost:<port>`. Another URL lets a phone on the LAN reach the server by
   * the address in its tokens and metadata (`http://192.168.1.20:4000`, with `host` 0.0.0.0). */
  issuer?: string | undefined
  random: Random
  /** A configuration file whose clients and APIs are added to the demo ones. */
  file?: string | undefined
  env?: Record<string, string | undefined>
}

/**
 * The configuration of `tessera dev`: issuer `http://localhost:<port>` (or `issuer`), SQLite in `.tessera/`, the
 * secret of `.tessera/secret`, the demo client and APIs (plus those of `file`), `dev: true`. It goes
 * through `resolveConfig` like any production configuration.
 */
export function devConfig(o: DevConfigOptions): TesseraConfig {
  const dir = resolve(o.cwd, DEV_DIR)
  const port = o.port ?? DEV_PORT
  const issuer = (o.issuer ?? `http://localhost:${port}`).replace(/\/$/, '')
  const env = o.env ?? process.env
  const extra =
    o.file === undefined ? undefined : loadConfigInput({ file: o.file, cwd: o.cwd, env: {} })
  return resolveConfig({
    logLevel: 'info',
    ...(env.TESSERA_LOG_LEVEL
      ? { logLevel: env.TESSERA_LOG_LEVEL as TesseraConfig['logLevel'] }
      : {}),
    apis: [...DEMO_APIS, ...(extra?.input.apis ?? [])],
    clients: [demoClient(issuer), demoShellClient(), ...(extra?.input.clients ?? [])],
    issuer,
    host: o.host ?? 'localhost',
    port,
    secret: devSecret(dir, o.random),
    admin: { apiKeys: [{ name: 'dev', hash: hashAdminKey(devAdminKey(dir, o.random)) }] },
    database: { driver: 'sqlite', file: resolve(dir, 'tessera.db') },
    // Mail is caught at /dev/mail, so a newcomer can try sign-up and its verification link.
    accounts: { signUp: true },
    ...(extra?.input.email ? { email: extra.input.email } : {}),
    dev: true,
  })
}
