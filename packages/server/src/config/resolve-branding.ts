import { readFileSync, statSync } from 'node:fs'
import { ConfigError, type BrandingSettings } from './config.js'

/** `branding` as written in the configuration file. */
export interface BrandingInput {
  name?: string
  logoUrl?: string
  colors?: { primary?: string; background?: string; text?: string }
  cssFile?: string
}

/** Largest custom style sheet accepted, in bytes. */
const MAX_CSS_BYTES = 256 * 1024
/** Largest logo URL accepted (a data URL carries the image), in characters. */
const MAX_LOGO_URL = 64 * 1024

/** CSS colours that cannot end the declaration they are put in: `#rgb`, `#rgba`, `#rrggbb`,
 * `#rrggbbaa`, `rgb()`/`rgba()`/`hsl()`/`hsla()` of numbers, or a colour keyword. */
const COLOR =
  /^(?:#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})|(?:rgba?|hsla?)\([0-9.,%\s/deg]{1,60}\)|[a-zA-Z]{3,25})$/
/** An image as a data URL, base64-encoded. */
const DATA_IMAGE = /^data:image\/(?:png|gif|jpeg|webp|avif|svg\+xml);base64,[A-Za-z0-9+/]+={0,2}$/

function text(setting: string, v: unknown, max: number): string {
  if (
    typeof v !== 'string' ||
    v.trim() === '' ||
    v.length > max ||
    [...v].some((c) => c.charCodeAt(0) < 32)
  ) {
    throw new ConfigError(setting, `must be a string of 1 to ${max} characters on one line`)
  }
  return v
}

function logoUrl(v: unknown): string {
  const s = text('branding.logoUrl', v, MAX_LOGO_URL)
  if (s.startsWith('data:')) {
    if (!DATA_IMAGE.test(s)) {
      throw new ConfigError('branding.logoUrl', 'must be a base64 data URL of an image')
    }
    return s
  }
  let u: URL
  try {
    u = new URL(s)
  } catch {
    throw new ConfigError('branding.logoUrl', 'must be an https URL or a data URL of an image')
  }
  if (u.protocol !== 'https:' || u.username !== '' || u.password !== '') {
    throw new ConfigError('branding.logoUrl', 'must be an https URL or a data URL of an image')
  }
  return u.href
}

function color(setting: string, v: unknown): string | null {
  if (v === undefined) return null
  if (typeof v !== 'string' || !COLOR.test(v.trim())) {
    throw new ConfigError(setting, 'must be a CSS colour (#rrggbb, rgb(), hsl() or a keyword)')
  }
  return v.trim()
}

function cssFile(v: unknown): { path: string; css: string } {
  if (typeof v !== 'string' || v === '') throw new ConfigError('branding.cssFile', 'must be a path')
  let size: number
  try {
    const st = statSync(v)
    if (!st.isFile()) throw new Error('not a file')
    size = st.size
  } catch {
    throw new ConfigError('branding.cssFile', 'is not a readable file')
  }
  if (size > MAX_CSS_BYTES) {
    throw new ConfigError('branding.cssFile', `is larger than ${MAX_CSS_BYTES} bytes`)
  }
  const css = readFileSync(v, 'utf8')
  if (css.includes('\u0000')) throw new ConfigError('branding.cssFile', 'is not a text file')
  return { path: v, css }
}

/** Validates `branding`: the look of the hosted pages. */
export function resolveBranding(input: unknown): BrandingSettings {
  const none: BrandingSettings = {
    name: null,
    logoUrl: null,
    colors: { primary: null, background: null, text: null },
    cssFile: null,
    css: null,
  }
  if (input === undefined) return none
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('branding', 'must be an object')
  }
  const b = input as Record<string, unknown>
  for (const k of Object.keys(b)) {
    if (!['name', 'logoUrl', 'colors', 'cssFile'].includes(k)) {
      throw new ConfigError(`branding.${k}`, 'is not a known setting')
    }
  }
  let colors = none.colors
  if (b.colors !== undefined) {
    if (typeof b.colors !== 'object' || b.colors === null || Array.isArray(b.colors)) {
      throw new ConfigError('branding.colors', 'must be an object')
    }
    const c = b.colors as Record<string, unknown>
    for (const k of Object.keys(c)) {
      if (!['primary', 'background', 'text'].includes(k)) {
        throw new ConfigError(`branding.colors.${k}`, 'is not a known setting')
      }
    }
    colors = {
      primary: color('branding.colors.primary', c.primary),
      background: color('branding.colors.background', c.background),
      text: color('branding.colors.text', c.text),
    }
  }
  const file = b.cssFile === undefined ? null : cssFile(b.cssFile)
  return {
    name: b.name === undefined ? null : text('branding.name', b.name, 100),
    logoUrl: b.logoUrl === undefined ? null : logoUrl(b.logoUrl),
    colors,
    cssFile: file?.path ?? null,
    css: file?.css ?? null,
  }
}
