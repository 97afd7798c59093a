import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { EXIT, UsageError, reportError, type CliIo } from './cli-io.js'
import type { CliExtras, Command, Options } from './command.js'
import { devCommand } from './dev.js'
import { keysListCommand, keysRotateCommand } from './keys.js'
import { backupCommand } from './backup.js'
import { migrateCommand } from './migrate.js'
import { startCommand } from './start.js'
import {
  adminKeysCreateCommand,
  adminKeysHashCommand,
  adminKeysListCommand,
  adminKeysRevokeCommand,
} from './admin-keys.js'
import { eventsListCommand } from './events.js'
import {
  sessionsListCommand,
  sessionsRevokeCommand,
  sessionsRevokeUserCommand,
} from './sessions.js'
import {
  usersCreateCommand,
  usersDeleteCommand,
  usersDisableCommand,
  usersEnableCommand,
  usersListCommand,
  usersResetMfaCommand,
  usersResetPasswordCommand,
} from './users.js'

/** Every command of `tessera`, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  devCommand,
  startCommand,
  migrateCommand,
  backupCommand,
  keysRotateCommand,
  keysListCommand,
  usersCreateCommand,
  usersListCommand,
  usersDisableCommand,
  usersEnableCommand,
  usersDeleteCommand,
  usersResetPasswordCommand,
  usersResetMfaCommand,
  sessionsListCommand,
  sessionsRevokeCommand,
  sessionsRevokeUserCommand,
  eventsListCommand,
  adminKeysCreateCommand,
  adminKeysListCommand,
  adminKeysRevokeCommand,
  adminKeysHashCommand,
]

/** Commands with sub-commands (`keys rotate`). */
const GROUPS = new Set(
  COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]),
)

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length)) + 2
  return [
    'tessera: OAuth 2.1 / OpenID Connect session server',
    '',
    'Usage: tessera <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    '  -h, --help          Help (also: tessera <command> --help)',
    '  -v, --version       Print the version',
    '',
    'Every command takes --config FILE (default ./tessera.json if present); the environment',
    '(TESSERA_ISSUER, TESSERA_SECRET, DATABASE_URL ...) overrides the file.',
    '',
  ].join('\n')
}

function commandHelp(c: Command): string {
  return [
    `Usage: tessera ${c.name} ${c.usage}`,
    '',
    c.summary + '.',
    '',
    'Options:',
    ...c.help,
    '  -h, --help          This help',
    '',
  ].join('\n')
}

/**
 * Runs the CLI and resolves to the process exit code. Server commands resolve after a signal has
 * shut them down.
 */
export async function runCli(argv: string[], io: CliIo, extras: CliExtras = {}): Promise<number> {
  try {
    const first = argv[0]
    if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
      const topic = first === 'help' ? argv.slice(1).join(' ') : ''
      const c = COMMANDS.find((x) => x.name === topic)
      if (first === undefined) {
        io.stderr.write(usage())
        return EXIT.usage
      }
      io.stdout.write(c ? commandHelp(c) : usage())
      return EXIT.ok
    }
    if (first === '-v' || first === '--version') {
      io.stdout.write(version() + '\n')
      return EXIT.ok
    }
    let name = first
    let rest = argv.slice(1)
    if (GROUPS.has(first)) {
      const sub = argv[1]
      if (sub === undefined || sub.startsWith('-')) {
        const subs = COMMANDS.filter((c) => c.name.startsWith(first + ' ')).map((c) => c.name)
        throw new UsageError(`${first} needs a sub-command: ${subs.join(', ')}`)
      }
      name = `${first} ${sub}`
      rest = argv.slice(2)
    }
    const command = COMMANDS.find((c) => c.name === name)
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`)
    if (rest.includes('--password') || rest.some((a) => a.startsWith('--password='))) {
      throw new UsageError('passwords are never taken from the command line; pipe it to stdin')
    }
    const wanted = command.positionals ?? []
    const options: Options = { ...command.options, help: { type: 'boolean', short: 'h' } }
    const { values, positionals } = parseArgs({
      args: wanted.length > 0 ? idsAsPositionals(rest, options) : rest,
      options,
      allowPositionals: wanted.length > 0,
      strict: true,
    })
    if (values.help) {
      io.stdout.write(commandHelp(command))
      return EXIT.ok
    }
    if (positionals.length < wanted.length) {
      throw new UsageError(`${command.name} needs ${wanted.map((p) => `<${p}>`).join(' ')}`)
    }
    if (positionals.length > wanted.length) {
      // Not echoed: it may be a password typed where it does not belong.
      throw new UsageError(`unexpected argument: ${command.name} takes ${wanted.length}`)
    }
    return await command.run(values, io, extras, positionals)
  } catch (err) {
    return reportError(io, err)
  }
}

/** An identifier as the server makes them (base64url, 22 characters or more after a prefix). */
const ID_LIKE = /^-[A-Za-z0-9_-]{15,}$/

/**
 * Ids are base64url, so one in 32 begins with `-` and would be read as a cluster of short options
 * (`tessera sessions revoke -Xb3...`). An argument of that shape that is no known option is moved
 * behind `--`, where parseArgs takes it as the positional it is; everything else is left for
 * parseArgs to judge, unknown options included.
 */
export function idsAsPositionals(args: string[], options: Options): string[] {
  const shorts = new Map<string, string>()
  for (const [name, o] of Object.entries(options)) if (o.short) shorts.set(o.short, name)
  const takesValue = (name: string) => options[name]?.type === 'string'
  const flags: string[] = []
  const positionals: string[] = []
  let moved = false
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string
    if (a === '--') {
      positionals.push(...args.slice(i + 1))
      break
    }
    const long = /^--([^=]+)(=.*)?$/.exec(a)
    const name = long ? long[1] : /^-.$/.test(a) ? shorts.get(a.slice(1)) : undefined
    if (name !== undefined && options[name]) {
      flags.push(a)
      if (takesValue(name) && !long?.[2] && i + 1 < args.length) flags.push(args[++i] as string)
    } else if (ID_LIKE.test(a)) {
      positionals.push(a)
      moved = true
    } else if (a.startsWith('-')) {
      flags.push(a)
    } else {
      positionals.push(a)
    }
  }
  return moved ? [...flags, '--', ...positionals] : args
}
