import { resolve } from 'node:path'
import {
  DEMO_APIS,
  DEMO_CLIENT_ID,
  DEMO_EXPO_WEB_REDIRECT_URI,
  DEMO_NATIVE_REDIRECT_URI,
  PLAYGROUND_CALLBACK_PATH,
} from '../dev/demo.js'
import { DEV_DIR, DEV_PORT, devConfig } from '../dev/dev-config.js'
import { devAdminKey } from '../dev/dev-admin-key.js'
import { ensureDemoUser } from '../dev/demo-user.js'
import { cryptoRandom } from '../lib/random.js'
import { createTesseraServer } from '../server.js'
import {
  CONFIG_HELP,
  CONFIG_OPTION,
  envPortOption,
  portOption,
  str,
  type Command,
} from './command.js'
import { freePort, serve } from './serve.js'

/**
 * `tessera dev`: the server on http://localhost:4000 with its data in `./.tessera` (SQLite, the
 * secret, the demo user's password), the demo client and APIs, and the playground at `/`.
 */
export const devCommand: Command = {
  name: 'dev',
  summary: 'Run a development server with demo data and the playground',
  usage: '[--port N] [--host H] [--issuer URL] [--config FILE]',
  options: {
    ...CONFIG_OPTION,
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    issuer: { type: 'string' },
  },
  help: [
    `  -p, --port N        Port (default TESSERA_PORT, else PORT, else ${DEV_PORT}; 0 picks a free one).`,
    '                      The issuer is http://localhost:N',
    '      --host H        Address to listen on (default localhost)',
    '      --issuer URL    The issuer instead of http://localhost:N, e.g. http://192.168.1.20:4000',
    '                      with --host 0.0.0.0 for a phone on the LAN',
    CONFIG_HELP.replace('(default ./tessera.json if present)', 'whose clients and APIs are added'),
  ],
  async run(values, io, extras) {
    const host = str(values, 'host') ?? 'localhost'
    let port = portOption(values) ?? envPortOption(io.env) ?? DEV_PORT
    if (port === 0) port = await freePort(host)
    const config = devConfig({
      cwd: io.cwd,
      port,
      host,
      issuer: str(values, 'issuer'),
      random: cryptoRandom,
      file: str(values, 'config'),
      env: io.env,
    })
    const server = await createTesseraServer({ config, routes: extras.routes ?? [] })
    const ctx = server.ctx
    const demo = await ensureDemoUser(
      { store: ctx.store, clock: ctx.clock, random: ctx.random, passwordCost: config.passwordCost },
      resolve(io.cwd, DEV_DIR),
    ).catch(async (err: unknown) => {
      await server.close()
      throw err
    })
    return serve(server, io, {
      port,
      host,
      announce: () => [
        '# Tessera dev server: demo data and the playground. Not for production.',
        `url: ${config.issuer}`,
        `issuer: ${config.issuer}`,
        `playground: ${config.issuer}/`,
        `client_id: ${DEMO_CLIENT_ID}`,
        `redirect_uri: ${config.issuer}${PLAYGROUND_CALLBACK_PATH}`,
        `redirect_uri: ${DEMO_NATIVE_REDIRECT_URI}`,
        `redirect_uri: ${DEMO_EXPO_WEB_REDIRECT_URI}`,
        'expo_go_redirect_uri: exp://HOST:PORT/--/PATH (any, for this client in dev only)',
        `username: ${demo.username}`,
        `password: ${demo.password}`,
        ...DEMO_APIS.map((a) => `audience: ${a.audience}`),
        `admin: ${config.issuer}/admin`,
        `admin_key: ${devAdminKey(resolve(io.cwd, DEV_DIR), cryptoRandom)}`,
        `data: ${resolve(io.cwd, DEV_DIR)}`,
      ],
    })
  },
}
