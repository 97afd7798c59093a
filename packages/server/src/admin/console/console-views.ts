import type { SecurityEventRecord } from '../../store/types.js'
import { EVENT_TYPES } from '../services/event-admin.js'
import { SESSION_STATES } from '../services/session-admin.js'
import type { SessionView, UserView } from '../services/views.js'
import type { MfaView } from '../services/user-admin.js'
import type { PasskeyAdminView } from '../services/passkey-admin.js'
import { badge, cell, escapeHtml, link, postForm, table, text, time } from './console-layout.js'
import type { ConsoleSignIn } from './console-session.js'

/** The HTML bodies of the console's pages; every value is escaped where it is written. */

export function signInBody(action: string, csrf: string): string {
  return (
    `<h1>Tessera admin</h1><p class="muted">Sign in with an admin key.</p>` +
    `<form method="post" action="${escapeHtml(action)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    `<label for="key">Admin key</label>` +
    `<input type="password" id="key" name="key" autocomplete="off" maxlength="512" required autofocus>` +
    `<button type="submit" class="primary">Sign in</button></form>`
  )
}

const pager = (href: string | null): string =>
  href ? `<p class="pager">${link(href, 'Next page →')}</p>` : ''

function filterForm(action: string, fields: string): string {
  return `<form class="filters" method="get" action="${escapeHtml(action)}">${fields}<button type="submit">Filter</button></form>`
}

function input(name: string, label: string, value: string | undefined, placeholder = ''): string {
  return (
    `<label>${escapeHtml(label)}<input name="${escapeHtml(name)}" value="${escapeHtml(value ?? '')}"` +
    ` placeholder="${escapeHtml(placeholder)}" maxlength="200"></label>`
  )
}

function select(
  name: string,
  label: string,
  values: readonly string[],
  current: string | undefined,
) {
  return (
    `<label>${escapeHtml(label)}<select name="${escapeHtml(name)}"><option value="">any</option>` +
    values
      .map(
        (v) =>
          `<option${v === current ? ' selected' : ''} value="${escapeHtml(v)}">${escapeHtml(v)}</option>`,
      )
      .join('') +
    `</select></label>`
  )
}

export function usersBody(
  base: string,
  users: UserView[],
  search: string | undefined,
  next: string | null,
): string {
  return (
    `<h1>Users</h1>` +
    filterForm(base + '/users', input('search', 'Search', search, 'username, email or name')) +
    table(
      ['Username', 'Name', 'Email', 'Status', 'Created'],
      users.map((u) => [
        cell(link(`${base}/users/${encodeURIComponent(u.id)}`, u.username)),
        text(u.name),
        text(u.email),
        cell(badge(u.disabled ? 'disabled' : 'active')),
        text(time(u.createdAt), 'nowrap'),
      ]),
      search ? 'No user matches.' : 'No users yet.',
    ) +
    pager(next)
  )
}

export function userBody(
  base: string,
  s: ConsoleSignIn,
  u: UserView,
  sessions: SessionView[],
  back: string,
  mfa?: MfaView,
  passkeys: PasskeyAdminView[] = [],
): string {
  const action = `${base}/users/${encodeURIComponent(u.id)}`
  const twoStep = !mfa?.totp
    ? 'off'
    : mfa.totp.confirmed
      ? `on (${mfa.recoveryCodesLeft} recovery codes left)`
      : 'being set up'
  return (
    `<h1>${escapeHtml(u.username)} ${badge(u.disabled ? 'disabled' : 'active')}</h1>` +
    `<div class="card"><dl>` +
    `<dt>ID</dt><dd class="mono">${escapeHtml(u.id)}</dd>` +
    `<dt>Name</dt><dd>${escapeHtml(u.name ?? '-')}</dd>` +
    `<dt>Email</dt><dd>${escapeHtml(u.email ?? '-')}` +
    (u.email === null ? '' : ` ${badge(u.emailVerified ? 'verified' : 'unverified')}`) +
    `</dd>` +
    `<dt>Created</dt><dd>${escapeHtml(time(u.createdAt))}</dd>` +
    `<dt>Updated</dt><dd>${escapeHtml(time(u.updatedAt))}</dd>` +
    `<dt>Password changed</dt><dd>${escapeHtml(time(u.passwordChangedAt))}</dd>` +
    `<dt>Metadata</dt><dd class="mono">${escapeHtml(JSON.stringify(u.metadata))}</dd>` +
    `<dt>Two-step verification</dt><dd>${escapeHtml(twoStep)}</dd>` +
    `</dl><div class="actions">` +
    (u.disabled
      ? postForm(action + '/enable', s.csrf, 'Enable user', 'primary')
      : postForm(action + '/disable', s.csrf, 'Disable user', 'danger')) +
    postForm(action + '/revoke-sessions', s.csrf, 'Sign out everywhere') +
    (mfa?.totp
      ? postForm(action + '/reset-mfa', s.csrf, 'Reset two-step verification', 'danger')
      : '') +
    (u.email !== null && !u.emailVerified && !u.disabled
      ? postForm(action + '/verification-email', s.csrf, 'Send verification mail')
      : '') +
    (u.email !== null && !u.disabled
      ? postForm(action + '/password-reset-email', s.csrf, 'Send password reset mail')
      : '') +
    link(`${base}/events?user=${encodeURIComponent(u.id)}`, 'Security events of this user') +
    `</div></div>` +
    `<h2>Passkeys</h2>` +
    passkeysTable(action, s, passkeys) +
    `<h2>Sessions</h2>` +
    sessionsTable(base, s, sessions, new Map([[u.id, u.username]]), back) +
    `<p class="pager">${link(`${base}/sessions?user=${encodeURIComponent(u.id)}`, 'All sessions of this user →')}</p>`
  )
}

/** A user's passkeys: never the public key; each with a CSRF-checked remove form. */
function passkeysTable(userAction: string, s: ConsoleSignIn, passkeys: PasskeyAdminView[]): string {
  return table(
    ['Name', 'Created', 'Last used', 'Backup', 'Transports', 'Credential', ''],
    passkeys.map((p) => [
      text(p.name),
      text(time(p.createdAt), 'nowrap'),
      text(p.lastUsedAt === null ? 'never' : time(p.lastUsedAt), 'nowrap'),
      // The WebAuthn BE and BS flags.
      text(
        p.backupEligible
          ? `eligible, ${p.backupState ? 'backed up' : 'not backed up'}`
          : 'not eligible (device-bound)',
        'nowrap',
      ),
      text(p.transports.join(', ') || null),
      text(p.id, 'mono'),
      cell(
        postForm(
          `${userAction}/passkeys/${encodeURIComponent(p.id)}/remove`,
          s.csrf,
          'Remove',
          'danger',
        ),
      ),
    ]),
    'No passkeys.',
  )
}

export interface SessionFilters {
  user?: string | undefined
  client?: string | undefined
  state?: string | undefined
}

export function sessionsBody(
  base: string,
  s: ConsoleSignIn,
  sessions: SessionView[],
  usernames: Map<string, string>,
  f: SessionFilters,
  back: string,
  next: string | null,
): string {
  return (
    `<h1>Sessions</h1>` +
    filterForm(
      base + '/sessions',
      input('user', 'User id', f.user, 'usr_...') +
        input('client', 'Client', f.client) +
        select('state', 'State', SESSION_STATES, f.state),
    ) +
    sessionsTable(base, s, sessions, usernames, back) +
    pager(next)
  )
}

function sessionsTable(
  base: string,
  s: ConsoleSignIn,
  sessions: SessionView[],
  usernames: Map<string, string>,
  back: string,
): string {
  return table(
    ['Session', 'User', 'Client', 'State', 'Reason', 'Created', 'Last active', 'Ended', ''],
    sessions.map((x) => [
      text(x.id, 'mono'),
      cell(
        link(`${base}/users/${encodeURIComponent(x.userId)}`, usernames.get(x.userId) ?? x.userId),
      ),
      text(x.clientId, 'nowrap'),
      cell(badge(x.state)),
      text(x.reason),
      text(time(x.createdAt), 'nowrap'),
      text(time(x.lastActiveAt), 'nowrap'),
      text(x.endedAt === null ? null : time(x.endedAt), 'nowrap'),
      cell(
        x.state === 'active' || x.state === 'pending'
          ? postForm(
              `${base}/sessions/${encodeURIComponent(x.id)}/revoke`,
              s.csrf,
              'Revoke',
              'danger',
              {
                back,
              },
            )
          : '',
      ),
    ]),
    'No sessions.',
  )
}

export interface EventFilters {
  type?: string | undefined
  user?: string | undefined
  client?: string | undefined
  session?: string | undefined
}

export function eventsBody(
  base: string,
  events: SecurityEventRecord[],
  f: EventFilters,
  next: string | null,
): string {
  return (
    `<h1>Security events</h1>` +
    filterForm(
      base + '/events',
      select('type', 'Type', EVENT_TYPES, f.type) +
        input('user', 'User id', f.user, 'usr_...') +
        input('client', 'Client', f.client) +
        input('session', 'Session', f.session),
    ) +
    table(
      ['Time', 'Type', 'User', 'Client', 'Session', 'IP', 'Details'],
      events.map((e) => [
        text(time(e.at), 'nowrap'),
        cell(`<strong>${escapeHtml(e.type)}</strong>`),
        e.userId
          ? cell(link(`${base}/users/${encodeURIComponent(e.userId)}`, e.userId, 'mono'))
          : text(null),
        text(e.clientId, 'nowrap'),
        text(e.sessionId, 'mono nowrap'),
        text(e.ip),
        text(details(e.data), 'data mono'),
      ]),
      'No events.',
    ) +
    pager(next)
  )
}

/** The event's data in one line, the actor first and readable. */
function details(data: Record<string, unknown>): string {
  const { actor, ...rest } = data as { actor?: { kind?: string; name?: string; via?: string } }
  const parts: string[] = []
  if (actor) parts.push(`by ${actor.name ?? '?'} (${actor.kind ?? '?'} via ${actor.via ?? '?'})`)
  const json = JSON.stringify(rest)
  if (json !== '{}') parts.push(json)
  return parts.join(' ')
}
