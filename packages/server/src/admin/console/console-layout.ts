/**
 * The admin console's page frame: server-rendered HTML, no JavaScript, one inline stylesheet
 * allowed by its hash, and headers that forbid framing, referrers, caching and any resource from
 * elsewhere. Every value is escaped where it is written.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import { escapeHtml } from '../../http/app.js'
import type { ConsoleSignIn } from './console-session.js'

const STYLE = `*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f3f4f6;color:#111827}
header{background:#111827;color:#f9fafb;display:flex;align-items:center;gap:1.5rem;padding:.7rem 1.5rem}
header .brand{font-weight:700;letter-spacing:.02em}
header nav{display:flex;gap:.25rem;flex:1}
header nav a{color:#d1d5db;text-decoration:none;padding:.35rem .7rem;border-radius:6px}
header nav a:hover,header nav a.on{background:#374151;color:#fff}
header .who{color:#9ca3af;font-size:.85rem}
header form{margin:0}
header button{background:transparent;color:#d1d5db;border:1px solid #4b5563;padding:.3rem .7rem}
main{max-width:78rem;margin:1.5rem auto;padding:0 1.5rem}
main.narrow{max-width:26rem;margin-top:5rem;background:#fff;padding:2rem;border-radius:10px;box-shadow:0 1px 4px #0002}
h1{font-size:1.35rem;margin:0 0 1rem}h2{font-size:1.05rem;margin:1.75rem 0 .6rem}
a{color:#1d4ed8}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0001;padding:1rem 1.25rem;margin-bottom:1rem}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:10px;overflow:hidden;box-shadow:0 1px 3px #0001}
th,td{text-align:left;padding:.55rem .75rem;border-bottom:1px solid #e5e7eb;vertical-align:middle}
td.nowrap{white-space:nowrap}td button{padding:.2rem .6rem;font-size:.85rem}
th{background:#f9fafb;font-weight:600;color:#374151;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
tr:last-child td{border-bottom:0}
td.mono,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.8rem}
td.data{max-width:26rem;overflow-wrap:anywhere}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.78rem;font-weight:600}
.s-active{background:#dcfce7;color:#166534}.s-pending{background:#fef9c3;color:#854d0e}
.s-ended,.s-expired,.s-abandoned,.s-replaced,.s-removed{background:#e5e7eb;color:#374151}
.s-revoked,.s-disabled{background:#fee2e2;color:#991b1b}
form.inline{display:inline;margin:0}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin-bottom:1rem}
form.filters label{display:flex;flex-direction:column;font-size:.8rem;color:#4b5563;gap:.2rem}
input,select{font:inherit;padding:.4rem .5rem;border:1px solid #d1d5db;border-radius:6px;background:#fff}
button{font:inherit;padding:.4rem .85rem;border-radius:6px;border:1px solid #d1d5db;background:#fff;cursor:pointer}
button.primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}
button.danger{background:#b91c1c;border-color:#b91c1c;color:#fff}
main.narrow label{display:block;margin:.75rem 0 .25rem}main.narrow input{width:100%}
main.narrow button{width:100%;margin-top:1.25rem}
.notice{background:#dbeafe;color:#1e3a8a;padding:.6rem .9rem;border-radius:8px;margin-bottom:1rem}
.alert{background:#fee2e2;color:#991b1b;padding:.6rem .9rem;border-radius:8px;margin-bottom:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.25rem;margin:0}dt{color:#6b7280}dd{margin:0}
.actions{display:flex;align-items:center;gap:.5rem;margin-top:1rem}.muted{color:#6b7280}
.pager{margin-top:.75rem}`

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64')

/**
 * No scripts at all; styles only by hash; forms post only to this origin; never framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ')

export function consoleHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
}

export type Section = 'users' | 'sessions' | 'events'

export interface Frame {
  issuer: string
  title: string
  signIn?: ConsoleSignIn
  section?: Section
  notice?: string
  alert?: string
}

const SECTIONS: [Section, string][] = [
  ['users', 'Users'],
  ['sessions', 'Sessions'],
  ['events', 'Security events'],
]

export function sendConsolePage(
  reply: FastifyReply,
  status: number,
  f: Frame,
  body: string,
): FastifyReply {
  const header = f.signIn
    ? `<header><span class="brand">Tessera admin</span><nav>` +
      SECTIONS.map(
        ([s, label]) =>
          `<a href="${escapeHtml(`${f.issuer}/admin/${s}`)}"${s === f.section ? ' class="on" aria-current="page"' : ''}>${label}</a>`,
      ).join('') +
      `</nav><span class="who">key: ${escapeHtml(f.signIn.principal.name)}</span>` +
      postForm(f.issuer + '/admin/sign-out', f.signIn.csrf, 'Sign out', '', {}, 'inline') +
      `</header>`
    : ''
  const notices =
    (f.notice ? `<p class="notice" role="status">${escapeHtml(f.notice)}</p>` : '') +
    (f.alert ? `<p class="alert" role="alert">${escapeHtml(f.alert)}</p>` : '')
  return consoleHeaders(reply)
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
        `<title>${escapeHtml(f.title)} - Tessera admin</title>` +
        `<meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<meta name="referrer" content="no-referrer"><meta name="robots" content="noindex">` +
        `<style>${STYLE}</style></head><body>${header}` +
        `<main${f.signIn ? '' : ' class="narrow"'}>${notices}${body}</main></body></html>`,
    )
}

/** A one-button POST form carrying the CSRF token and any hidden fields. */
export function postForm(
  action: string,
  csrf: string,
  label: string,
  buttonClass = '',
  fields: Record<string, string> = {},
  formClass = 'inline',
): string {
  return (
    `<form class="${formClass}" method="post" action="${escapeHtml(action)}">` +
    `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">` +
    Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
      .join('') +
    `<button type="submit"${buttonClass ? ` class="${buttonClass}"` : ''}>${escapeHtml(label)}</button></form>`
  )
}

export function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p class="card muted">${escapeHtml(empty)}</p>`
  return (
    `<table><thead><tr>${headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>` +
    rows.map((r) => `<tr>${r.join('')}</tr>`).join('') +
    `</tbody></table>`
  )
}

/** A cell of already-escaped HTML, or of text. */
export const cell = (html: string, cls = ''): string =>
  `<td${cls ? ` class="${cls}"` : ''}>${html}</td>`
export const text = (s: string | null | undefined, cls = ''): string =>
  cell(
    s === null || s === undefined || s === '' ? '<span class="muted">-</span>' : escapeHtml(s),
    cls,
  )

export const time = (ms: number | null): string =>
  ms === null
    ? '-'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, 'Z')

export const badge = (state: string): string =>
  `<span class="badge s-${escapeHtml(state)}">${escapeHtml(state)}</span>`

export const link = (href: string, label: string, cls = ''): string =>
  `<a href="${escapeHtml(href)}"${cls ? ` class="${cls}"` : ''}>${escapeHtml(label)}</a>`

export { escapeHtml }
