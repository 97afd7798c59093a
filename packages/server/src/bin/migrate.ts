import { openStore } from '../server.js'
import {
  CONFIG_HELP,
  CONFIG_OPTION,
  DEV_DATA_HELP,
  DEV_DATA_OPTION,
  flag,
  str,
  type Command,
} from './command.js'
import { adminConfig } from './admin-config.js'

/** `tessera migrate`: applies pending database migrations and exits. */
export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'Apply pending database migrations and exit',
  usage: '[--config FILE]',
  options: { ...CONFIG_OPTION, ...DEV_DATA_OPTION },
  help: [CONFIG_HELP, DEV_DATA_HELP],
  async run(values, io) {
    const config = adminConfig(io, { config: str(values, 'config'), dev: flag(values, 'dev') })
    const store = await openStore(config)
    try {
      await store.migrate()
    } finally {
      await store.close()
    }
    // Never print a database URL: it may carry a password.
    const where = config.database.driver === 'sqlite' ? config.database.file : 'postgres'
    io.stdout.write(`migrated: ${where}\n`)
    return 0
  },
}
