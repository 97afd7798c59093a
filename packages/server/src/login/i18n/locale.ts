/**
 * The language of a hosted page: the first supported tag of the authorization request's
 * `ui_locales` (OIDC Core 3.1.2.1, carried by the login transaction), else of the browser's
 * `Accept-Language` by quality, else English.
 *
 * @example
 * const t = translator(pickLocale('fr-CA en', undefined)) // French
 * t('to continue to {client}', { client: 'Shop' }) // 'pour continuer vers Shop'
 * t('Too many wrong codes. Try again in 5 minutes.') // a filled-in text is matched too
 */
import { fr } from './fr.js'

/** The catalogues by language; English is the source text itself. */
export const CATALOGUES = { en: {}, fr } satisfies Record<string, Readonly<Record<string, string>>>
export type Locale = keyof typeof CATALOGUES
export const DEFAULT_LOCALE: Locale = 'en'

function supported(tag: string): Locale | undefined {
  const lang = tag.trim().toLowerCase().split('-')[0] ?? ''
  return Object.hasOwn(CATALOGUES, lang) ? (lang as Locale) : undefined
}

/** The tags of an `Accept-Language` header, best first (quality 0 left out). */
function acceptLanguage(header: string): string[] {
  return header
    .slice(0, 1024)
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.split(';')
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined)
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), i }
    })
    .filter((x) => x.tag !== '' && x.tag !== '*' && x.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
    .map((x) => x.tag)
}

export function pickLocale(uiLocales: string | undefined, accept: string | undefined): Locale {
  for (const tag of (uiLocales ?? '').slice(0, 1024).split(' ')) {
    const l = supported(tag)
    if (l) return l
  }
  for (const tag of acceptLanguage(accept ?? '')) {
    const l = supported(tag)
    if (l) return l
  }
  return DEFAULT_LOCALE
}

/** Translates an English source text (a catalogue key, `{name}` placeholders filled from `vars`,
 * not escaped: escape on output), or an English text already filled in (matched against the keys
 * with placeholders). A text the catalogue lacks stays English. */
export type Translate = (text: string, vars?: Record<string, string>) => string

interface Pattern {
  re: RegExp
  names: string[]
  target: string
}

const patterns = new Map<Locale, Pattern[]>()

function patternsOf(locale: Locale): Pattern[] {
  let list = patterns.get(locale)
  if (!list) {
    list = Object.entries(CATALOGUES[locale] as Record<string, string>)
      .filter(([k]) => /\{\w+\}/.test(k))
      .map(([k, target]) => {
        const names: string[] = []
        const source = k
          .split(/(\{\w+\})/)
          .map((part) => {
            const m = /^\{(\w+)\}$/.exec(part)
            if (!m) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
            names.push(m[1] as string)
            return '(.+?)'
          })
          .join('')
        return { re: new RegExp(`^${source}$`, 's'), names, target }
      })
    patterns.set(locale, list)
  }
  return list
}

const fill = (s: string, vars: Record<string, string> | undefined): string =>
  s.replace(/\{(\w+)\}/g, (m, name: string) => vars?.[name] ?? m)

export function translator(locale: Locale): Translate {
  const cat = CATALOGUES[locale] as Readonly<Record<string, string>>
  return (text, vars) => {
    if (Object.hasOwn(cat, text)) return fill(cat[text] as string, vars)
    if (vars === undefined) {
      for (const p of patternsOf(locale)) {
        const m = p.re.exec(text)
        if (m) return fill(p.target, Object.fromEntries(p.names.map((n, i) => [n, m[i + 1] ?? ''])))
      }
    }
    return fill(text, vars)
  }
}
