import { parseTime } from '../admin/api/json-input.js'
import { EVENT_TYPES, isEventType } from '../admin/services/event-admin.js'
import { InvalidRequest } from '../oauth/errors.js'
import {
  ADMIN_OPTIONS,
  ADMIN_OPTIONS_HELP,
  adminConfigOf,
  LIST_OPTIONS,
  listOptionsHelp,
} from './admin-config.js'
import { isoTime, printRows, UsageError } from './cli-io.js'
import { flag, limitOption, str, type Command, type Values } from './command.js'
import { nextPageHint, withAdmin } from './with-admin.js'

function timeOption(values: Values, name: string): number | undefined {
  const raw = str(values, name)
  if (raw === undefined) return undefined
  try {
    return parseTime(`--${name}`, raw)
  } catch (err) {
    if (err instanceof InvalidRequest) throw new UsageError(err.message)
    throw err
  }
}

export const eventsListCommand: Command = {
  name: 'events list',
  summary: 'List security events, newest first',
  usage:
    '[--type T] [--user U] [--client C] [--session S] [--since TIME] [--before TIME] [--limit N] [--cursor C] [--json]',
  options: {
    ...ADMIN_OPTIONS,
    type: { type: 'string' },
    user: { type: 'string' },
    client: { type: 'string' },
    session: { type: 'string' },
    since: { type: 'string' },
    before: { type: 'string' },
    ...LIST_OPTIONS,
  },
  help: [
    '      --type T        One event type (sign_in_failure, session_revoked, user_disabled ...)',
    '      --user U        Events of one user id',
    '      --client C      Events of one client',
    '      --session S     Events of one session',
    '      --since TIME    At or after TIME: ISO 8601 (2026-01-01T00:00:00Z) or epoch ms',
    '      --before TIME   Before TIME',
    ...listOptionsHelp('events'),
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io) {
    const type = str(values, 'type')
    if (type !== undefined && !isEventType(type)) {
      throw new UsageError(`--type must be one of ${EVENT_TYPES.join(', ')}`)
    }
    const since = timeOption(values, 'since')
    const before = timeOption(values, 'before')
    const limit = limitOption(values, 100)
    const page = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.events.list({
        type,
        userId: str(values, 'user'),
        clientId: str(values, 'client'),
        sessionId: str(values, 'session'),
        since,
        before,
        limit,
        cursor: str(values, 'cursor'),
      }),
    )
    printRows(
      io,
      flag(values, 'json'),
      page.items,
      ['AT', 'TYPE', 'USER', 'CLIENT', 'SESSION', 'IP', 'DATA'],
      (e) => [
        isoTime(e.at),
        e.type,
        e.userId ?? '-',
        e.clientId ?? '-',
        e.sessionId ?? '-',
        e.ip ?? '-',
        JSON.stringify(e.data),
      ],
    )
    nextPageHint(io, page.nextCursor)
    return 0
  },
}
