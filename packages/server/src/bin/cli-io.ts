import { ConfigError } from '../config/config.js'
import { reasonOf } from '../config/load.js'
import { MissingPackageError } from '../store/optional-package.js'
import { storeFailure } from '../store/store-failure.js'
import { OAuthError } from '../oauth/errors.js'
import { UserInputError } from '../users/create-user.js'

/** What a command reads and writes; the real process in the bin, pipes in tests. */
export interface CliIo {
  stdout: { write(chunk: string): unknown }
  stderr: { write(chunk: string): unknown }
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  env: Record<string, string | undefined>
  cwd: string
}

export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  }
}

/** Exit codes, from sysexits.h where one fits. */
export const EXIT = {
  ok: 0,
  failure: 1,
  /** EX_USAGE: unknown command or option, missing argument. */
  usage: 64,
  /** EX_DATAERR: the input was refused (a taken username, a short password, an unknown user or
   * session, a user disabled already). */
  data: 65,
  /** EX_CONFIG: the configuration is invalid. */
  config: 78,
} as const

/** An error the CLI reports as one line, with its exit code. */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly exitCode: number
  constructor(message: string, exitCode: number) {
    super(message)
    this.exitCode = exitCode
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage)
  }
}

/**
 * Reports an error on stderr and returns the exit code. Expected failures (configuration, usage,
 * input) are one line without a stack; anything else is a bug or an outage and keeps its stack.
 */
export function reportError(io: CliIo, err: unknown): number {
  if (err instanceof ConfigError) {
    io.stderr.write(`tessera: invalid configuration: ${err.setting}: ${reasonOf(err)}\n`)
    return EXIT.config
  }
  if (err instanceof CliError) {
    io.stderr.write(`tessera: ${err.message}\n`)
    if (err.exitCode === EXIT.usage) io.stderr.write('Run tessera --help for usage.\n')
    return err.exitCode
  }
  if (err instanceof MissingPackageError) {
    // The configured database's driver is not installed: set up, not a failure of the moment.
    io.stderr.write(`tessera: ${err.message}\n`)
    return EXIT.config
  }
  if (err instanceof UserInputError) {
    io.stderr.write(`tessera: ${err.message}\n`)
    return EXIT.data
  }
  // The admin services' refusals (invalid_request, not_found, conflict) carry a public message.
  if (err instanceof OAuthError && err.status < 500 && err.status !== 429) {
    io.stderr.write(`tessera: ${err.description}\n`)
    return EXIT.data
  }
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    // A stray argument is not echoed: it may be a password typed where it does not belong.
    const message =
      code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
        ? 'unexpected argument: this command takes options only'
        : (err as Error).message
    io.stderr.write(`tessera: ${message}\nRun tessera --help for usage.\n`)
    return EXIT.usage
  }
  const db = databaseProblem(err, io.env)
  if (db) {
    io.stderr.write(`tessera: ${db.message}\n`)
    return db.exitCode
  }
  const e = err instanceof Error ? err : new Error(String(err))
  io.stderr.write(`tessera: ${e.message}\n${e.stack ?? ''}\n`)
  return EXIT.failure
}

/**
 * A PostgreSQL error met while opening the store, as one line: a refused login, or a database or
 * schema that does not exist, is a configuration error naming the setting (exit 78); a database
 * that cannot be reached is a failure (exit 1). pg's messages hold no password.
 */
function databaseProblem(
  err: unknown,
  env: Record<string, string | undefined>,
): { message: string; exitCode: number } | undefined {
  const code = (err as { code?: unknown } | null)?.code
  const message = (err as { message?: unknown } | null)?.message
  if (typeof message !== 'string') return undefined
  const setting = env.DATABASE_URL ? 'DATABASE_URL' : 'database.url'
  if (typeof code === 'string' && (/^28/.test(code) || code === '3D000' || code === '3F000')) {
    return { message: `invalid configuration: ${setting}: ${message}`, exitCode: EXIT.config }
  }
  if (storeFailure(err) === 'unavailable' && !/^SQLITE_/.test(String(code))) {
    const why = [typeof code === 'string' && !message.includes(code) ? code : '', message]
      .filter((x) => x !== '')
      .join(': ')
    return { message: `cannot reach the database (${why})`, exitCode: EXIT.failure }
  }
  return undefined
}

/**
 * Writes a listing: the rows as JSON when `json`, else an aligned table of `header` and the cells
 * `cells` makes of each row.
 */
export function printRows<R>(
  io: CliIo,
  json: boolean,
  rows: R[],
  header: string[],
  cells: (row: R) => string[],
): void {
  io.stdout.write(json ? JSON.stringify(rows, null, 2) + '\n' : table([header, ...rows.map(cells)]))
}

/** Aligned columns, header first. */
export function table(rows: string[][]): string {
  const widths: number[] = []
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)))
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => line + '\n')
    .join('')
}

export const isoTime = (ms: number | null): string =>
  ms === null ? '-' : new Date(ms).toISOString().replace('.000Z', 'Z')
