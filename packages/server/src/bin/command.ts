import type { ParseArgsConfig } from 'node:util'
import type { RouteModule } from '../http/app.js'
import { UsageError, type CliIo } from './cli-io.js'

export type Options = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>

/** Additions that embedding code and test fixtures pass to the server commands. */
export interface CliExtras {
  /** Extra route modules for `dev` and `start`. */
  routes?: RouteModule[]
}

/** One row of the CLI's command table. */
export interface Command {
  /** `dev`, `keys rotate` ... */
  name: string
  summary: string
  /** Usage line after `tessera <name>`. */
  usage: string
  options: Options
  /** Names of the required positional arguments, in order (`sessions revoke <id>`); none when
   * omitted, and then any positional argument is refused without being echoed. */
  positionals?: readonly string[]
  /** One line per option for `--help`. */
  help: string[]
  run(values: Values, io: CliIo, extras: CliExtras, args: string[]): Promise<number>
}

export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const satisfies Options
export const DEV_DATA_OPTION = { dev: { type: 'boolean' } } as const satisfies Options
export const CONFIG_HELP =
  '  -c, --config FILE   JSON configuration file (default ./tessera.json if present)'
export const DEV_DATA_HELP =
  '      --dev           Work on the data of `tessera dev` in ./.tessera instead'

export function str(values: Values, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true
}

/** `--port`: 0 to 65535; 0 picks a free port. */
export function portOption(values: Values): number | undefined {
  const v = str(values, 'port')
  if (v === undefined) return undefined
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
    throw new UsageError('--port must be a number from 0 to 65535')
  }
  return Number(v)
}

/**
 * The port from the environment for a command whose `--port` was not given: `TESSERA_PORT`, else
 * `PORT` (the variable hosting platforms set). Undefined when neither is set.
 */
export function envPortOption(env: Record<string, string | undefined>): number | undefined {
  for (const name of ['TESSERA_PORT', 'PORT']) {
    const v = env[name]
    if (v === undefined || v === '') continue
    if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) {
      throw new UsageError(`${name} must be a number from 0 to 65535`)
    }
    return Number(v)
  }
  return undefined
}

/** `--limit`: a whole number from 1 to `max`. */
export function limitOption(values: Values, fallback: number, max = 999_999): number {
  const raw = str(values, 'limit')
  if (raw === undefined) return fallback
  if (!/^\d{1,6}$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new UsageError(`--limit must be a whole number from 1 to ${max}`)
  }
  return Number(raw)
}
