/**
 * The server's own HTML pages (sign-in, sign-out, messages): plain forms that work without
 * JavaScript, no third-party resources, and headers that forbid framing (RDR-11), referrers
 * (RDR-15) and caching.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { escapeHtml } from '../http/app.js'
import { localeOf, lookOf, textsOf, type PageLook } from './page-look.js'

/**
 * No scripts, no frames, no third-party anything; the one inline style is allowed by its hash (it
 * carries the branding colours), the operator's style sheet as `'self'` and the logo by its origin
 * (see page-look.ts). `form-action` does not fall back to `default-src`, so every page names it:
 * `'none'` on pages without a form, else the page's own origin and the one place its form's answer
 * redirects to.
 */
function pageCsp(look: PageLook): string {
  return (
    `default-src 'none'; style-src ${look.styleSrc}; ` +
    (look.imgSrc === null ? '' : `img-src ${look.imgSrc}; `) +
    `base-uri 'none'; frame-ancestors 'none'`
  )
}

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
    .header('content-security-policy', `${pageCsp(lookOf(reply))}; form-action ${action}${scripts}`)
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
}

/** Sends a complete HTML page with the front-channel headers; `forms` and `script` as for
 * frontChannelHeaders (the script is loaded deferred). The page is in the request's language
 * (page-look.ts): `title` is translated here, `body` must be already (see textsOf). */
export function sendPage(
  reply: FastifyReply,
  status: number,
  title: string,
  body: string,
  forms: string[] = [],
  script?: string,
): FastifyReply {
  const look = lookOf(reply)
  const b = look.branding
  const t = textsOf(reply)
  const fullTitle = b.name === null ? t(title) : `${t(title)} · ${b.name}`
  const brand =
    b.logoUrl !== null
      ? `<p class="brand"><img src="${escapeHtml(b.logoUrl)}" alt="${escapeHtml(
          b.name === null ? '' : t('{name} logo', { name: b.name }),
        )}"></p>`
      : b.name !== null
        ? `<p class="brand">${escapeHtml(b.name)}</p>`
        : ''
  return frontChannelHeaders(reply, forms, script)
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .send(
      `<!doctype html><html lang="${localeOf(reply)}"><head><meta charset="utf-8">` +
        `<title>${escapeHtml(fullTitle)}</title>` +
        `<meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<meta name="referrer" content="no-referrer"><style>${look.style}</style>` +
        (look.cssUrl === null ? '' : `<link rel="stylesheet" href="${escapeHtml(look.cssUrl)}">`) +
        (script === undefined ? '' : `<script src="${escapeHtml(script)}" defer></script>`) +
        `</head>` +
        `<body><main>${brand}${body}</main></body></html>`,
    )
}

/** A page with a heading and one paragraph, both translated. */
export function sendMessage(
  reply: FastifyReply,
  status: number,
  title: string,
  message: string,
): FastifyReply {
  const t = textsOf(reply)
  return sendPage(
    reply,
    status,
    title,
    `<h1>${escapeHtml(t(title))}</h1><p>${escapeHtml(t(message))}</p>`,
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
export { textsOf } from './page-look.js'
