import { chmodSync, closeSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { cryptoRandom, randomId } from '../lib/random.js'
import { loadDriver } from '../store/optional-package.js'
import { adminConfigOf, ADMIN_OPTIONS, ADMIN_OPTIONS_HELP } from './admin-config.js'
import { CliError, EXIT } from './cli-io.js'
import type { Command } from './command.js'

/** Pages SQLite copies per backup step: all of them, in one step (see `onlineBackup`). */
const ALL_PAGES = 0x7fffffff

/**
 * Copies the SQLite database `source` to `target` while other processes use it, with SQLite's
 * online backup API (better-sqlite3's `backup`). The copy is taken in one step, inside one read
 * transaction: in WAL mode a reader never blocks the server's writes, and the copy is the database
 * as of one commit. (Steps of a few pages would let a server's write restart the copy each time,
 * so under load it might never finish.) Returns the number of pages copied.
 */
export async function onlineBackup(source: string, target: string): Promise<number> {
  const db = new (sqlite())(source, { fileMustExist: true })
  try {
    db.pragma('busy_timeout = 5000')
    const r = await db.backup(target, { progress: () => ALL_PAGES })
    return r.totalPages
  } finally {
    db.close()
  }
}

/** `tessera backup <file>`: an online, consistent copy of the SQLite database. */
export const backupCommand: Command = {
  name: 'backup',
  summary: 'Copy the SQLite database to a new file while the server runs',
  usage: '<file> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['file'],
  help: [
    '      <file> is the backup to write; it must not exist yet. It is written beside itself',
    '      first and renamed when complete, with mode 0600 (it holds the encrypted signing keys).',
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io, _extras, [file = '']) {
    const config = adminConfigOf(io, values)
    if (config.database.driver !== 'sqlite') {
      throw new CliError(
        'backup copies a SQLite database; for PostgreSQL use pg_dump (see the README, "Backups")',
        EXIT.usage,
      )
    }
    const source = config.database.file
    if (source === ':memory:') {
      throw new CliError('backup: the database is in memory: there is no file to copy', EXIT.usage)
    }
    if (!existsSync(source)) throw new CliError(`backup: no database at ${source}`, EXIT.failure)
    const target = resolve(io.cwd, file)
    if (target === resolve(source)) {
      throw new CliError('backup: the backup must be another file than the database', EXIT.data)
    }
    if (existsSync(target)) {
      throw new CliError(`backup: ${target} exists already; name a new file`, EXIT.data)
    }
    if (!existsSync(dirname(target))) {
      throw new CliError(`backup: the directory ${dirname(target)} does not exist`, EXIT.data)
    }
    // Created 0600 before SQLite writes into it, so the copy is never readable by others.
    const partial = `${target}.partial-${randomId(cryptoRandom).slice(0, 8)}`
    closeSync(openSync(partial, 'wx', 0o600))
    try {
      const pages = await onlineBackup(source, partial)
      const check = new (sqlite())(partial, { readonly: true, fileMustExist: true })
      try {
        const result = check.pragma('quick_check', { simple: true })
        if (result !== 'ok') throw new CliError(`backup: the copy failed its check`, EXIT.failure)
      } finally {
        check.close()
      }
      chmodSync(partial, 0o600)
      renameSync(partial, target)
      io.stdout.write(`backup: ${target}\npages: ${pages}\nbytes: ${statSync(target).size}\n`)
      return 0
    } catch (err) {
      rmSync(partial, { force: true })
      throw err
    }
  },
}

/** better-sqlite3, loaded when a backup runs: an optional dependency, absent from a
 * PostgreSQL-only deployment, whose CLI must still load. */
function sqlite(): typeof BetterSqlite3 {
  return loadDriver<typeof BetterSqlite3>('better-sqlite3')
}
