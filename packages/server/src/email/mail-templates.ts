/**
 * Mail templates: one text and one HTML file per message, `<name>.txt` and `<name>.html`. The
 * built-in ones live in the package's `templates/email/`; a file of the same name in
 * `email.templatesDir` replaces one. The text file starts with a `Subject:` line and a blank line.
 * `{{name}}` placeholders are filled in; values are HTML-escaped in the HTML part and stripped of
 * line breaks in the subject (no header injection). Templates are read and checked once, when the
 * server is built, so a broken override stops start-up, not a send.
 *
 * @example
 * const t = MailTemplates.load(null)
 * t.render('verify-email', { name: 'Ada', email: 'ada@example.com', link, ... })
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../config/config.js'
import { escapeHtml } from '../http/app.js'

/** The messages the server sends, and the values each template may use. */
export const MAIL_TEMPLATES = {
  'verify-email': ['product', 'name', 'username', 'email', 'link', 'expiresIn'],
  'reset-password': ['product', 'name', 'username', 'email', 'link', 'expiresIn'],
  'password-changed': ['product', 'name', 'username', 'email', 'how'],
} as const

export type MailTemplateName = keyof typeof MAIL_TEMPLATES
export type MailValues<N extends MailTemplateName> = Record<
  (typeof MAIL_TEMPLATES)[N][number],
  string
>

export interface RenderedMail {
  subject: string
  text: string
  html: string
}

/** `templates/email/` of the package, from `src/email/` and `dist/email/` alike. */
export const BUILT_IN_TEMPLATES = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../templates/email/',
)

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g

interface Parsed {
  subject: string
  text: string
  html: string
}

export class MailTemplates {
  readonly #parsed: Map<MailTemplateName, Parsed>

  private constructor(parsed: Map<MailTemplateName, Parsed>) {
    this.#parsed = parsed
  }

  /** Reads every template, `dir`'s files first; throws ConfigError naming a bad file. */
  static load(dir: string | null): MailTemplates {
    const parsed = new Map<MailTemplateName, Parsed>()
    for (const name of Object.keys(MAIL_TEMPLATES) as MailTemplateName[]) {
      const read = (ext: 'txt' | 'html'): string => {
        const own = dir === null ? undefined : join(dir, `${name}.${ext}`)
        const file =
          own !== undefined && existsSync(own) ? own : join(BUILT_IN_TEMPLATES, `${name}.${ext}`)
        return readFileSync(file, 'utf8')
      }
      const raw = read('txt')
      const m = /^Subject: ?([^\r\n]+)\r?\n\r?\n/.exec(raw)
      if (!m?.[1]) {
        throw new ConfigError(
          'email.templatesDir',
          `${name}.txt must start with a "Subject: ..." line and a blank line`,
        )
      }
      const html = read('html')
      const allowed = new Set<string>(MAIL_TEMPLATES[name])
      for (const part of [m[1], raw, html]) {
        for (const [, key] of part.matchAll(PLACEHOLDER)) {
          if (!allowed.has(key as string)) {
            throw new ConfigError(
              'email.templatesDir',
              `${name}: unknown placeholder {{${key}}} (known: ${[...allowed].join(', ')})`,
            )
          }
        }
      }
      parsed.set(name, { subject: m[1], text: raw.slice(m[0].length), html })
    }
    return new MailTemplates(parsed)
  }

  render<N extends MailTemplateName>(name: N, values: MailValues<N>): RenderedMail {
    const t = this.#parsed.get(name) as Parsed
    const v = values as Record<string, string>
    const fill = (s: string, f: (x: string) => string) =>
      s.replace(PLACEHOLDER, (_, key: string) => f(v[key] ?? ''))
    return {
      subject: fill(t.subject, (x) => x.replace(/[\r\n]+/g, ' ')),
      text: fill(t.text, (x) => x),
      html: fill(t.html, escapeHtml),
    }
  }
}
