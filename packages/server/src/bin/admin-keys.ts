import { ADMIN_KEY_SHAPE, hashAdminKey } from '../admin/auth/admin-key-hash.js'
import { ADMIN_OPTIONS, ADMIN_OPTIONS_HELP, adminConfigOf } from './admin-config.js'
import { isoTime, printRows, UsageError } from './cli-io.js'
import { flag, str, type Command } from './command.js'
import { readPassword } from './read-password.js'
import { cliActor, withAdmin } from './with-admin.js'

export const adminKeysCreateCommand: Command = {
  name: 'admin-keys create',
  summary: 'Make an Admin API key; it is printed once and stored only as a hash',
  usage: '--name N [--config FILE]',
  options: { ...ADMIN_OPTIONS, name: { type: 'string' } },
  help: [
    '      --name N        What the key is for (1-64 of A-Z a-z 0-9 . _ -)',
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io) {
    const name = str(values, 'name')
    if (name === undefined) throw new UsageError('admin-keys create needs --name')
    const { key, record } = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.keys.create(cliActor(io), name),
    )
    io.stdout.write(`id: ${record.id}\nname: ${record.name}\nkey: ${key}\n`)
    io.stderr.write('Store the key now: it is not shown again.\n')
    return 0
  },
}

export const adminKeysListCommand: Command = {
  name: 'admin-keys list',
  summary: 'List the Admin API keys kept in the store (never the keys themselves)',
  usage: '[--json] [--config FILE]',
  options: { ...ADMIN_OPTIONS, json: { type: 'boolean' } },
  help: ['      --json          One JSON object per key', ...ADMIN_OPTIONS_HELP],
  async run(values, io) {
    const keys = await withAdmin(adminConfigOf(io, values), (admin) => admin.keys.list())
    printRows(io, flag(values, 'json'), keys, ['ID', 'NAME', 'CREATED', 'REVOKED'], (k) => [
      k.id,
      k.name,
      isoTime(k.createdAt),
      isoTime(k.revokedAt),
    ])
    return 0
  },
}

export const adminKeysRevokeCommand: Command = {
  name: 'admin-keys revoke',
  summary: 'Revoke an Admin API key at once, ending its console sign-ins',
  usage: '<id> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['id'],
  help: ['      <id> is the key id (ak_...) from admin-keys list.', ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [id = '']) {
    const k = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.keys.revoke(cliActor(io), id),
    )
    io.stdout.write(`id: ${k.id}\nname: ${k.name}\nrevoked: ${isoTime(k.revokedAt)}\n`)
    return 0
  },
}

export const adminKeysHashCommand: Command = {
  name: 'admin-keys hash',
  summary: 'Print the hash of a key read from stdin, for admin.apiKeys in the configuration',
  usage: '',
  options: {},
  help: [
    '      Reads the key as the first line of stdin (hidden on a terminal) and prints',
    '      hash: sha256$...; put it in admin.apiKeys[].hash. The key itself is never stored.',
  ],
  async run(_values, io) {
    const key = await readPassword(io, false, 'key')
    if (!ADMIN_KEY_SHAPE.test(key)) {
      throw new UsageError(
        'an admin key must be 32 to 512 printable ASCII characters without spaces',
      )
    }
    io.stdout.write(`hash: ${hashAdminKey(key)}\n`)
    return 0
  },
}
