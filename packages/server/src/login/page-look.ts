/**
 * How the hosted pages look and speak, per server: the operator's branding (name, logo, colours,
 * a style sheet served at BRANDING_CSS_PATH) and the page language. The pages' CSP stays strict:
 * the inline style is allowed by its hash, the style sheet as `'self'`, the logo by its origin (or
 * `data:`); never `'unsafe-inline'`.
 */
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { BrandingSettings } from '../config/config.js'
import type { ServerContext } from '../context.js'
import type { Params } from '../http/form.js'
import { pickLocale, translator, type Locale, type Translate } from './i18n/locale.js'
import { LoginTransactionCodec, type LoginTransaction } from './login-transaction.js'

/** Where the operator's style sheet (`branding.cssFile`) is served. */
export const BRANDING_CSS_PATH = '/branding.css'

const BASE_STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:22rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem}
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;font:inherit;cursor:pointer}
.alert{background:#fdecea;color:#8a1c12;padding:.5rem .75rem;border-radius:4px}
.or{text-align:center;color:#5b6270;margin:1rem 0 0}table{width:100%;border-collapse:collapse}
td{padding:.25rem 0;vertical-align:top}td button{margin:0;width:auto;padding:.2rem .6rem}
.brand{display:block;text-align:center;margin:0 0 1rem;font-weight:600}.brand img{max-width:100%;max-height:4rem}
.upstream{display:block;margin-top:.75rem;padding:.6rem;border:1px solid #8f96a3;border-radius:4px;text-align:center;color:inherit;text-decoration:none}`

export interface PageLook {
  branding: BrandingSettings
  /** The inline style of every page (base, then the branding colours). */
  style: string
  /** The `style-src` and `img-src` sources of the pages' CSP. */
  styleSrc: string
  imgSrc: string | null
  /** The style sheet's absolute URL, when one is configured. */
  cssUrl: string | null
  /** Opens a login transaction (at the server's clock), for its `ui_locales`. */
  openTx: ((sealed: string) => LoginTransaction | undefined) | null
}

/** The colours as CSS; each value was validated as a colour, so it cannot end its declaration. */
function brandStyle(b: BrandingSettings): string {
  const c = b.colors
  return (
    (c.background || c.text
      ? `body{${c.background ? `background:${c.background};` : ''}${c.text ? `color:${c.text};` : ''}}`
      : '') +
    (c.text ? `main{color:${c.text}}` : '') +
    (c.primary
      ? `button{background:${c.primary};color:#fff;border:0;border-radius:4px}a{color:${c.primary}}`
      : '')
  )
}

export function pageLook(
  branding: BrandingSettings,
  issuer: string | null,
  openTx: PageLook['openTx'],
): PageLook {
  const style = BASE_STYLE + brandStyle(branding)
  const hash = createHash('sha256').update(style).digest('base64')
  const css = branding.css !== null && issuer !== null
  let imgSrc: string | null = null
  if (branding.logoUrl !== null) {
    imgSrc = branding.logoUrl.startsWith('data:') ? 'data:' : new URL(branding.logoUrl).origin
  }
  return {
    branding,
    style,
    styleSrc: `'sha256-${hash}'${css ? " 'self'" : ''}`,
    imgSrc,
    cssUrl: css ? `${issuer}${BRANDING_CSS_PATH}` : null,
    openTx,
  }
}

const UNBRANDED = pageLook(
  {
    name: null,
    logoUrl: null,
    colors: { primary: null, background: null, text: null },
    cssFile: null,
    css: null,
  },
  null,
  null,
)
const looks = new WeakMap<FastifyInstance, PageLook>()
const locales = new WeakMap<FastifyRequest, Locale>()

/** The look of the pages the server of `reply` answers (Tessera's own when none was set up). */
export function lookOf(reply: FastifyReply): PageLook {
  return looks.get(reply.server) ?? UNBRANDED
}

/** The `ui_locales` of the authorization request whose sign-in this request continues: from the
 * login transaction in the query or the form (sealed, so only the server's own). */
function uiLocales(req: FastifyRequest, look: PageLook): string | undefined {
  if (!look.openTx) return undefined
  const tx = (p: unknown): string | undefined => {
    const v: unknown =
      p instanceof Map ? (p as Params).get('tx') : (p as Record<string, unknown> | undefined)?.tx
    const one: unknown = Array.isArray(v) ? (v.length === 1 ? (v[0] as unknown) : undefined) : v
    return typeof one === 'string' ? one : undefined
  }
  const sealed = tx(req.body) ?? tx(req.query)
  if (sealed === undefined) return undefined
  return look.openTx(sealed)?.params.get('ui_locales')?.[0]
}

/** The language of the page answering `reply`'s request. */
export function localeOf(reply: FastifyReply): Locale {
  const req = reply.request
  const known = locales.get(req)
  if (known) return known
  const accept = req.headers['accept-language']
  const l = pickLocale(
    uiLocales(req, lookOf(reply)),
    typeof accept === 'string' ? accept : undefined,
  )
  locales.set(req, l)
  return l
}

/** The texts of the page answering `reply`'s request, in its language. */
export function textsOf(reply: FastifyReply): Translate {
  return translator(localeOf(reply))
}

/** Route module: the server's page look, and its style sheet at BRANDING_CSS_PATH. */
export function pageLookRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const codec = new LoginTransactionCodec(ctx.config.secrets)
  const look = pageLook(ctx.config.branding, ctx.config.issuer, (sealed) =>
    codec.open(sealed, ctx.clock.now()),
  )
  looks.set(app, look)
  const css = look.branding.css
  if (css === null) return
  const etag = `"${createHash('sha256').update(css).digest('base64url').slice(0, 27)}"`
  app.get(BRANDING_CSS_PATH, (req, reply) => {
    reply
      .header('content-type', 'text/css; charset=utf-8')
      .header('cache-control', 'public, max-age=300')
      .header('etag', etag)
    if (req.headers['if-none-match'] === etag) return reply.code(304).send()
    return reply.code(200).send(css)
  })
}
