import { ConfigError } from '../config/config.js'
import { loadConfig } from '../config/load.js'
import type { ConfigInput } from '../config/resolve.js'
import { createTesseraServer } from '../server.js'
import { UndecryptableKeysError } from '../tokens/signing-keys.js'
import { CONFIG_HELP, CONFIG_OPTION, portOption, str, type Command } from './command.js'
import { serve } from './serve.js'

/** `tessera start`: production. Configuration from the file, then the environment, then flags. */
export const startCommand: Command = {
  name: 'start',
  summary: 'Run the server (configuration file + environment)',
  usage: '[--config FILE] [--port N] [--host H]',
  options: { ...CONFIG_OPTION, port: { type: 'string', short: 'p' }, host: { type: 'string' } },
  help: [
    CONFIG_HELP,
    '  -p, --port N        Port, overriding TESSERA_PORT, PORT and the file (0 picks a free one)',
    '      --host H        Address to listen on, overriding TESSERA_HOST and the file',
  ],
  async run(values, io, extras) {
    const overrides: ConfigInput = {}
    const port = portOption(values)
    if (port !== undefined) overrides.port = port
    const host = str(values, 'host')
    if (host !== undefined) overrides.host = host
    const config = loadConfig({ file: str(values, 'config'), env: io.env, cwd: io.cwd, overrides })
    const server = await createTesseraServer({ config, routes: extras.routes ?? [] }).catch(
      (err: unknown) => {
        // Keys made under another secret: a configuration mistake, reported as one.
        if (err instanceof UndecryptableKeysError) {
          throw new ConfigError(
            config.secrets.length > 1 ? 'secrets' : 'secret',
            config.secrets.length > 1
              ? 'none of these is the secret the stored signing keys were made with'
              : 'is not the secret the stored signing keys were made with',
          )
        }
        throw err
      },
    )
    if (config.dev) {
      server.ctx.log.warn('dev is set: development settings are not safe for production')
    }
    return serve(server, io, {
      port: config.port,
      host: config.host,
      announce: (url) => [`issuer: ${config.issuer}`, `url: ${url}`],
    })
  },
}
