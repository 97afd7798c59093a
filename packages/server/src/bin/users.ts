import { isoTime, printRows, UsageError } from './cli-io.js'
import {
  ADMIN_OPTIONS,
  ADMIN_OPTIONS_HELP,
  adminConfigOf,
  LIST_OPTIONS,
  listOptionsHelp,
} from './admin-config.js'
import { flag, limitOption, str, type Command } from './command.js'
import { readPassword } from './read-password.js'
import type { CliIo } from './cli-io.js'
import { cliActor, nextPageHint, withAdmin } from './with-admin.js'

const USER_ARG = '<user> is a user id (usr_...) or a username.'

/** `key: value` lines. */
function print(io: CliIo, lines: [string, string | number | boolean][]): void {
  io.stdout.write(lines.map(([k, v]) => `${k}: ${String(v)}\n`).join(''))
}

export const usersCreateCommand: Command = {
  name: 'users create',
  summary: 'Create a user; the password is read from stdin',
  usage: '--username U [--email E] [--name N] [--password-stdin] [--config FILE]',
  options: {
    ...ADMIN_OPTIONS,
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
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io) {
    const username = str(values, 'username')
    if (username === undefined) throw new UsageError('users create needs --username')
    const cfg = adminConfigOf(io, values)
    const password = await readPassword(io, flag(values, 'password-stdin'))
    const user = await withAdmin(cfg, (admin) =>
      admin.users.create(cliActor(io), {
        username,
        password,
        email: str(values, 'email') ?? null,
        name: str(values, 'name') ?? null,
      }),
    )
    print(io, [
      ['id', user.id],
      ['username', user.username],
    ])
    return 0
  },
}

export const usersListCommand: Command = {
  name: 'users list',
  summary: 'List users, by username',
  usage: '[--search Q] [--limit N] [--cursor C] [--json] [--config FILE]',
  options: {
    ...ADMIN_OPTIONS,
    ...LIST_OPTIONS,
    search: { type: 'string' },
  },
  help: [
    '      --search Q      Only users whose username, email or name contains Q (any case)',
    ...listOptionsHelp('users'),
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io) {
    const limit = limitOption(values, 100)
    const page = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.list({ search: str(values, 'search'), limit, cursor: str(values, 'cursor') }),
    )
    const rows = page.items.map((u) => ({
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
    nextPageHint(io, page.nextCursor)
    return 0
  },
}

export const usersDisableCommand: Command = {
  name: 'users disable',
  summary: 'Disable a user and revoke all their sessions and SSO sessions',
  usage: '<user> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['user'],
  help: [`      ${USER_ARG}`, ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [ref = '']) {
    const r = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.disable(cliActor(io), ref, true),
    )
    print(io, [
      ['id', r.user.id],
      ['username', r.user.username],
      ['disabled', 'yes'],
      ['sessions_revoked', r.sessionsRevoked],
      ['browser_sessions_ended', r.browserSessionsEnded],
    ])
    return 0
  },
}

export const usersEnableCommand: Command = {
  name: 'users enable',
  summary: 'Enable a disabled user (ended sessions stay ended)',
  usage: '<user> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['user'],
  help: [`      ${USER_ARG}`, ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [ref = '']) {
    const u = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.enable(cliActor(io), ref, true),
    )
    print(io, [
      ['id', u.id],
      ['username', u.username],
      ['disabled', 'no'],
    ])
    return 0
  },
}

export const usersResetMfaCommand: Command = {
  name: 'users reset-mfa',
  summary: "Remove a user's authenticator and recovery codes (a lost phone)",
  usage: '<user> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['user'],
  help: [`      ${USER_ARG}`, ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [ref = '']) {
    const v = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.resetMfa(cliActor(io), ref, true),
    )
    print(io, [
      ['id', v.userId],
      ['mfa', 'reset'],
    ])
    return 0
  },
}

export const usersDeleteCommand: Command = {
  name: 'users delete',
  summary: 'Delete a user after revoking all their sessions',
  usage: '<user> --yes [--config FILE]',
  options: { ...ADMIN_OPTIONS, yes: { type: 'boolean' } },
  positionals: ['user'],
  help: [
    `      ${USER_ARG}`,
    '      --yes           Required: the user cannot be restored',
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io, _extras, [ref = '']) {
    if (!flag(values, 'yes')) {
      throw new UsageError('users delete needs --yes: the user cannot be restored')
    }
    const r = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.delete(cliActor(io), ref, true),
    )
    print(io, [
      ['id', r.id],
      ['username', r.username],
      ['deleted', 'yes'],
      ['sessions_revoked', r.sessionsRevoked],
      ['browser_sessions_ended', r.browserSessionsEnded],
    ])
    return 0
  },
}

export const usersResetPasswordCommand: Command = {
  name: 'users reset-password',
  summary: "Set a user's password from stdin and revoke all their sessions",
  usage: '<user> [--password-stdin] [--config FILE]',
  options: { ...ADMIN_OPTIONS, 'password-stdin': { type: 'boolean' } },
  positionals: ['user'],
  help: [
    `      ${USER_ARG}`,
    '      --password-stdin  Read the password as the first line of stdin (the default when',
    '                      stdin is not a terminal; on a terminal it is typed twice, hidden)',
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io, _extras, [ref = '']) {
    const cfg = adminConfigOf(io, values)
    const password = await readPassword(io, flag(values, 'password-stdin'))
    const r = await withAdmin(cfg, (admin) =>
      admin.users.setPassword(cliActor(io), ref, password, true),
    )
    print(io, [
      ['id', r.user.id],
      ['username', r.user.username],
      ['sessions_revoked', r.sessionsRevoked],
      ['browser_sessions_ended', r.browserSessionsEnded],
    ])
    return 0
  },
}
