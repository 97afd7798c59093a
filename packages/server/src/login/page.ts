/**
 * The server's own HTML pages (sign-in, sign-out, messages): plain forms that work without
 * JavaScript, no third-party resources, and headers that forbid framing (RDR-11), referrers
 * (RDR-15) and caching.
 */
import { createHash } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { escapeHtml } from '../http/app.js'

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:22rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem}
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;font:inherit;cursor:pointer}
.alert{background:#fdecea;color:#8a1c12;padding:.5rem .75rem;border-radius:4px}
.or{text-align:center;color:#5b6270;margin:1rem 0 0}table{width:100%;border-collapse:collapse}
td{padding:.25rem 0;vertical-align:top}td button{margin:0;width:auto;padding:.2rem .6rem}
.upstream{display:block;margin-top:.75rem;padding:.6rem;border:1px solid #8f96a3;border-radius:4px;text-align:center;color:inherit;text-decoration:none}`

const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64')

/**
 * No scripts, no frames, no third-party anything; the one inline style is allowed by its hash.
 * `form-action` does not fall back to `default-src`, so every page names it: `'none'` on pages
 * without a form, else the page's own origin and the one place its form's answer redirects to.
 */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; base-uri 'none'; frame-ancestors 'none'`

/**
 * The `form-action` sources of a page whose form posts to this server (`'self'`) and whose
 * answer may 303 to `redirectTarget` (a client's validated redirect URI). Browsers check
 * `form-action` on every redirect of the form's navigation too (CSP 3, 6.4.3 and "does request
 * match source list" with a redirect count above 0, which ignores paths), so the target must be
 * listed, by what CSP can express: the origin of an http(s) URI (its path would not be compared
 * after a redirect anyway), or the scheme of a private-use URI (`com.example.app:`). An IPv6
 * literal cannot be written as a CSP host, so a `[::1]` loopback redirect allows its scheme.
 */
export function formAction(redirectTarget?: string): string[] {
  if (redirectTarget === undefined) return ["'self'"]
  const u = new URL(redirectTarget)
  const web = u.protocol === 'https:' || u.protocol === 'http:'
  return ["'self'", web && !u.hostname.startsWith('[') ? u.origin : u.protocol]
}

/** Security headers of every page and of every redirect out of the front channel; `forms`: the
 * `form-action` sources of the page (none: it has no form); `script`: the absolute URL of the one
 * script file the page may load (none by default), which may then fetch from this origin only. */
export function frontChannelHeaders(
  reply: FastifyReply,
  forms: string[] = [],
  script?: string,
): FastifyReply {
  const action = forms.length === 0 ? "'none'" : forms.join(' ')
  const scripts = script === undefined ? '' : `; script-src ${script}; connect-src 'self'`
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('content-security-policy', `${PAGE_CSP}; form-action ${action}${scripts}`)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
}

/** Sends a complete HTML page with the front-channel headers; `forms` and `script` as for
 * frontChannelHeaders (the script is loaded deferred). */
export function sendPage(
  reply: FastifyReply,
  status: number,
  title: string,
  body: string,
  forms: string[] = [],
  script?: string,
): FastifyReply {
  return frontChannelHeaders(reply, forms, script)
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
        `<meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<meta name="referrer" content="no-referrer"><style>${STYLE}</style>` +
        (script === undefined ? '' : `<script src="${escapeHtml(script)}" defer></script>`) +
        `</head>` +
        `<body><main>${body}</main></body></html>`,
    )
}

/** A page with a heading and one paragraph. */
export function sendMessage(
  reply: FastifyReply,
  status: number,
  title: string,
  message: string,
): FastifyReply {
  return sendPage(
    reply,
    status,
    title,
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`,
  )
}

export function hidden(name: string, value: string): string {
  return `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`
}

/** Route hook: errors render as pages from the first hook on, body parsing included. */
export function htmlErrors(req: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  req.htmlErrors = true
  done()
}

export { escapeHtml }
