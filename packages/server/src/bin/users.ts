import { MonotonicClock } from '../lib/clock.js'
import { cryptoRandom } from '../lib/random.js'
import { openStore } from '../server.js'
import type { Store } from '../store/store.js'
import { createUser } from '../users/create-user.js'
import { UsageError, isoTime, printRows } from './cli-io.js'
import { adminConfig } from './admin-config.js'
import {
  CONFIG_HELP,
  CONFIG_OPTION,
  DEV_DATA_HELP,
  DEV_DATA_OPTION,
  flag,
  str,
  type Command,
} from './command.js'
import { readPassword } from './read-password.js'
import type { TesseraConfig } from '../config/config.js'

async function withStore<T>(config: TesseraConfig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config)
  try {
    await store.migrate()
    return await fn(store)
  } finally {
    await store.close()
  }
}

export const usersCreateCommand: Command = {
  name: 'users create',
  summary: 'Create a user; the password is read from stdin',
  usage: '--username U [--email E] [--name N] [--password-stdin] [--config FILE]',
  options: {
    ...CONFIG_OPTION,
    ...DEV_DATA_OPTION,
    username: { type: 'string', short: 'u' },
    email: { type: 'string' },
    name: { type: 'string' },
    'password-stdin': { type: 'boolean' },
  },
  help: [
    '  -u, --username U    Username (letters, digits and . _ @ + -)',
    '      --email E       Email address',
    '      --name N        Display name',
    '      --password-stdin  Read the password as the first line of stdin (the default when',
    '                      stdin is not a terminal; on a terminal it is typed twice, hidden)',
    CONFIG_HELP,
    DEV_DATA_HELP,
  ],
  async run(values, io) {
    const username = str(values, 'username')
    if (username === undefined) throw new UsageError('users create needs --username')
    const config = adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
    const password = await readPassword(io, flag(values, 'password-stdin'))
    const user = await withStore(config, (store) =>
      createUser(
        {
          store,
          clock: new MonotonicClock(),
          random: cryptoRandom,
          passwordCost: config.passwordCost,
        },
        {
          username,
          password,
          email: str(values, 'email') ?? null,
          name: str(values, 'name') ?? null,
        },
      ),
    )
    io.stdout.write(`id: ${user.id}\nusername: ${user.username}\n`)
    return 0
  },
}

export const usersListCommand: Command = {
  name: 'users list',
  summary: 'List users',
  usage: '[--limit N] [--json] [--config FILE]',
  options: {
    ...CONFIG_OPTION,
    ...DEV_DATA_OPTION,
    json: { type: 'boolean' },
    limit: { type: 'string' },
  },
  help: [
    '      --limit N       At most N users (default 100)',
    '      --json          One JSON object per user',
    CONFIG_HELP,
    DEV_DATA_HELP,
  ],
  async run(values, io) {
    const limitRaw = str(values, 'limit') ?? '100'
    if (!/^\d{1,6}$/.test(limitRaw) || Number(limitRaw) < 1) {
      throw new UsageError('--limit must be a whole number from 1 to 999999')
    }
    const config = adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
    const users = await withStore(config, (store) => store.listUsers({ limit: Number(limitRaw) }))
    const rows = users.map((u) => ({
      id: u.id,
      username: u.username,
      email: u.email,
      name: u.name,
      disabled: u.disabled,
      createdAt: u.createdAt,
    }))
    printRows(
      io,
      flag(values, 'json'),
      rows,
      ['ID', 'USERNAME', 'EMAIL', 'NAME', 'DISABLED', 'CREATED'],
      (r) => [
        r.id,
        r.username,
        r.email ?? '-',
        r.name ?? '-',
        r.disabled ? 'yes' : 'no',
        isoTime(r.createdAt),
      ],
    )
    return 0
  },
}
