import { isSessionState, SESSION_STATES } from '../admin/services/session-admin.js'
import {
  ADMIN_OPTIONS,
  ADMIN_OPTIONS_HELP,
  adminConfigOf,
  LIST_OPTIONS,
  listOptionsHelp,
} from './admin-config.js'
import { isoTime, printRows, UsageError } from './cli-io.js'
import { flag, limitOption, str, type Command } from './command.js'
import { cliActor, nextPageHint, withAdmin } from './with-admin.js'

export const sessionsListCommand: Command = {
  name: 'sessions list',
  summary: 'List client sessions, newest first, with their state and end reason',
  usage: '[--user U] [--client C] [--state S] [--limit N] [--cursor C] [--json] [--config FILE]',
  options: {
    ...ADMIN_OPTIONS,
    user: { type: 'string' },
    client: { type: 'string' },
    state: { type: 'string' },
    ...LIST_OPTIONS,
  },
  help: [
    '      --user U        Sessions of one user (id or username)',
    '      --client C      Sessions of one client',
    `      --state S       ${SESSION_STATES.join(', ')}`,
    ...listOptionsHelp('sessions'),
    ...ADMIN_OPTIONS_HELP,
  ],
  async run(values, io) {
    const state = str(values, 'state')
    if (state !== undefined && !isSessionState(state)) {
      throw new UsageError(`--state must be one of ${SESSION_STATES.join(', ')}`)
    }
    const limit = limitOption(values, 100)
    const page = await withAdmin(adminConfigOf(io, values), async (admin) => {
      const userRef = str(values, 'user')
      const userId = userRef === undefined ? undefined : (await admin.users.find(userRef, true)).id
      return admin.sessions.list({
        userId,
        clientId: str(values, 'client'),
        state,
        limit,
        cursor: str(values, 'cursor'),
      })
    })
    printRows(
      io,
      flag(values, 'json'),
      page.items,
      ['ID', 'USER', 'CLIENT', 'STATE', 'REASON', 'CREATED', 'LAST ACTIVE', 'ENDED'],
      (s) => [
        s.id,
        s.userId,
        s.clientId,
        s.state,
        s.reason ?? '-',
        isoTime(s.createdAt),
        isoTime(s.lastActiveAt),
        isoTime(s.endedAt),
      ],
    )
    nextPageHint(io, page.nextCursor)
    return 0
  },
}

export const sessionsRevokeCommand: Command = {
  name: 'sessions revoke',
  summary: 'Revoke one session: its refresh and access tokens stop working',
  usage: '<id> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['id'],
  help: ['      <id> is the session id (the sid claim).', ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [id = '']) {
    const s = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.sessions.revoke(cliActor(io), id),
    )
    io.stdout.write(
      `id: ${s.id}\nstate: ${s.state}\nreason: ${s.reason ?? '-'}\nended: ${isoTime(s.endedAt)}\n`,
    )
    return 0
  },
}

export const sessionsRevokeUserCommand: Command = {
  name: 'sessions revoke-user',
  summary: 'Revoke every session and SSO session of a user (sign out everywhere)',
  usage: '<user> [--config FILE]',
  options: ADMIN_OPTIONS,
  positionals: ['user'],
  help: ['      <user> is a user id (usr_...) or a username.', ...ADMIN_OPTIONS_HELP],
  async run(values, io, _extras, [ref = '']) {
    const r = await withAdmin(adminConfigOf(io, values), (admin) =>
      admin.users.revokeSessions(cliActor(io), ref, true),
    )
    io.stdout.write(
      `sessions_revoked: ${r.sessionsRevoked}\nbrowser_sessions_ended: ${r.browserSessionsEnded}\n`,
    )
    return 0
  },
}
