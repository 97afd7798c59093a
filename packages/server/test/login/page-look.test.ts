/**
 * The hosted pages' branding and language over HTTP: the `branding` settings are validated, the
 * style sheet is served at /branding.css and allowed by the CSP as 'self' (never
 * 'unsafe-inline'), and the page speaks the language of `ui_locales`, then `Accept-Language`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config/config.js'
import { loadConfig } from '../../src/config/load.js'
import { resolveConfig } from '../../src/config/resolve.js'
import { pickLocale, translator } from '../../src/login/i18n/locale.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  startAuthorize,
  submitLogin,
} from '../helpers/oauth-flow.js'
import { startTestServer, TEST_SECRET, type TestServer } from '../helpers/test-server.js'
import { enrolTotp, passwordStep, submitCode } from '../mfa/mfa-helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'tessera-branding-'))
const cssFile = join(dir, 'brand.css')
writeFileSync(cssFile, 'h1{color:rgb(1, 2, 3)}\n')
const LOGO =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='

let t: TestServer
beforeAll(async () => {
  t = await startTestServer({
    config: {
      branding: {
        name: 'Acme <ID>',
        logoUrl: LOGO,
        colors: { primary: '#0b5394', background: 'rgb(240, 240, 250)', text: '#111' },
        cssFile,
      },
    },
  })
  await t.createUser()
})
afterAll(async () => {
  await t.close()
})

function config(branding: unknown) {
  return () =>
    resolveConfig({
      issuer: 'http://127.0.0.1:9999',
      secret: TEST_SECRET,
      dev: true,
      branding: branding as never,
    })
}

/** The sign-in page of a fresh authorization request, with `extra` parameters and headers. */
async function signInPage(
  extra: Record<string, string> = {},
  headers: Record<string, string> = {},
) {
  const jar = new CookieJar()
  const { params } = authorizationParams({ extra })
  const start = await startAuthorize(t, params, jar)
  const res = await browserFetch(jar, new URL(start.headers.get('location') ?? '', t.url).href, {
    headers,
  })
  const html = await res.text()
  return { jar, res, html, fields: formFields(html) }
}

describe('branding settings', () => {
  it('are refused with the setting named (exit 78 at start) when not valid', () => {
    const bad: [unknown, string][] = [
      ['red', 'branding'],
      [{ colour: {} }, 'branding.colour'],
      [{ colors: { primary: 'red;}body{display:none' } }, 'branding.colors.primary'],
      [{ colors: { text: 'url(https://evil.example)' } }, 'branding.colors.text'],
      [{ colors: { accent: '#fff' } }, 'branding.colors.accent'],
      [{ logoUrl: 'http://cdn.example.test/logo.png' }, 'branding.logoUrl'],
      [{ logoUrl: 'javascript:alert(1)' }, 'branding.logoUrl'],
      [{ logoUrl: 'data:text/html;base64,PGgxPg==' }, 'branding.logoUrl'],
      [{ cssFile: join(dir, 'missing.css') }, 'branding.cssFile'],
      [{ cssFile: dir }, 'branding.cssFile'],
      [{ name: '' }, 'branding.name'],
      [{ name: 'two\nlines' }, 'branding.name'],
    ]
    for (const [input, setting] of bad) {
      expect(config(input), JSON.stringify(input)).toThrow(ConfigError)
      try {
        config(input)()
      } catch (e) {
        expect((e as ConfigError).setting).toBe(setting)
      }
    }
  })

  it('accept colours, an https or data logo and a style sheet', () => {
    const c = config({
      name: 'Acme',
      logoUrl: 'https://cdn.example.test/logo.svg',
      colors: { primary: 'hsl(210 80% 30%)', background: 'white', text: '#1d2330ff' },
      cssFile,
    })()
    expect(c.branding).toEqual({
      name: 'Acme',
      logoUrl: 'https://cdn.example.test/logo.svg',
      colors: { primary: 'hsl(210 80% 30%)', background: 'white', text: '#1d2330ff' },
      cssFile,
      css: 'h1{color:rgb(1, 2, 3)}\n',
    })
    expect(config(undefined)().branding.css).toBeNull()
  })

  it('read cssFile relative to the configuration file', () => {
    writeFileSync(
      join(dir, 'tessera.json'),
      JSON.stringify({
        issuer: 'http://127.0.0.1:9999',
        dev: true,
        branding: { cssFile: 'brand.css' },
      }),
    )
    const c = loadConfig({ file: join(dir, 'tessera.json'), env: { TESSERA_SECRET: TEST_SECRET } })
    expect(c.branding.cssFile).toBe(cssFile)
    expect(c.branding.css).toBe('h1{color:rgb(1, 2, 3)}\n')
  })
})

describe('the branded pages', () => {
  it('allow the style sheet as self and the logo, never unsafe-inline', async () => {
    const { res, html } = await signInPage()
    expect(res.status).toBe(200)
    const csp = res.headers.get('content-security-policy') ?? ''
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toMatch(/(^|; )style-src 'sha256-[A-Za-z0-9+/=]+' 'self'(;|$)/)
    expect(csp).toMatch(/(^|; )img-src data:(;|$)/)
    expect(csp).toMatch(/(^|; )default-src 'none'(;|$)/)
    expect(html).toContain(`<link rel="stylesheet" href="${t.url}/branding.css">`)
    expect(html).toContain(`<img src="${LOGO}" alt="Acme &#60;ID&#62; logo">`)
    expect(html).toContain('<title>Sign in · Acme &#60;ID&#62;</title>')
    expect(html).toContain('button{background:#0b5394;')
  })

  it('serve the style sheet at /branding.css', async () => {
    const res = await fetch(`${t.url}/branding.css`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/css; charset=utf-8')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await res.text()).toBe('h1{color:rgb(1, 2, 3)}\n')
    const again = await fetch(`${t.url}/branding.css`, {
      headers: { 'if-none-match': res.headers.get('etag') ?? '' },
    })
    expect(again.status).toBe(304)
  })

  it('a server without a style sheet has no /branding.css and no self style source', async () => {
    const plain = await startTestServer()
    try {
      expect((await fetch(`${plain.url}/branding.css`)).status).toBe(404)
      const jar = new CookieJar()
      const start = await startAuthorize(plain, authorizationParams().params, jar)
      const res = await browserFetch(
        jar,
        new URL(start.headers.get('location') ?? '', plain.url).href,
      )
      const csp = res.headers.get('content-security-policy') ?? ''
      expect(csp).toMatch(/(^|; )style-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/)
      expect(csp).not.toContain('img-src')
      expect(await res.text()).not.toContain('branding.css')
    } finally {
      await plain.close()
    }
  })
})

describe('the page language', () => {
  it('picks ui_locales first, then Accept-Language by quality, then English', () => {
    expect(pickLocale('de fr-CA', 'en')).toBe('fr')
    expect(pickLocale('en fr', 'fr')).toBe('en')
    expect(pickLocale('de', 'de, en;q=0.5, fr;q=0.8')).toBe('fr')
    expect(pickLocale(undefined, 'fr;q=0, en-GB;q=0.1')).toBe('en')
    expect(pickLocale(undefined, 'de')).toBe('en')
    expect(pickLocale(undefined, undefined)).toBe('en')
    const fr = translator('fr')
    expect(fr('Too many sign-in attempts. Try again in 5 minutes.')).toBe(
      'Trop de tentatives de connexion. Réessayez dans 5 minutes.',
    )
    expect(fr('to continue to {client}', { client: 'Shop' })).toBe('pour continuer vers Shop')
    expect(translator('en')('Sign in')).toBe('Sign in')
  })

  it('the sign-in page in French by ui_locales, and its error after a failed sign-in', async () => {
    const { res, html, fields, jar } = await signInPage({ ui_locales: 'fr-FR en' })
    expect(res.status).toBe(200)
    expect(html).toContain('<html lang="fr">')
    expect(html).toContain('<h1>Connexion</h1>')
    expect(html).toContain('<label for="username">Nom d&#39;utilisateur</label>')
    expect(html).toContain('<label for="password">Mot de passe</label>')
    const failed = await submitLogin(t, fields, jar, 'alice', 'wrong password!')
    const page = await failed.text()
    expect(failed.status).toBe(400)
    expect(page).toContain('<html lang="fr">')
    expect(page).toContain(
      '<div id="form-error"><p class="alert" role="alert">Nom d&#39;utilisateur ou mot de passe incorrect.</p></div>',
    )
    expect(page).toMatch(/id="password"[^>]*aria-describedby="form-error"/)
  })

  it('the same page in French by Accept-Language, and in English without either', async () => {
    const fr = await signInPage({}, { 'accept-language': 'de-DE, fr;q=0.9, en;q=0.8' })
    expect(fr.html).toContain('<html lang="fr">')
    expect(fr.html).toContain('<h1>Connexion</h1>')
    const en = await signInPage()
    expect(en.html).toContain('<html lang="en">')
    expect(en.html).toContain('<h1>Sign in</h1>')
    expect(en.html).toContain('<label for="username">Username</label>')
    // ui_locales wins over Accept-Language.
    const ui = await signInPage({ ui_locales: 'en' }, { 'accept-language': 'fr' })
    expect(ui.html).toContain('<html lang="en">')
  })

  it('the second step and the wrong-code error in French by ui_locales, the set-up page by Accept-Language', async () => {
    await t.createUser('otto')
    const first = await passwordStep(t, { username: 'otto' })
    const enrol = await browserFetch(first.jar, `${t.url}/account/mfa`, {
      headers: { 'accept-language': 'fr' },
    })
    const enrolHtml = await enrol.text()
    expect(enrolHtml).toContain('<html lang="fr">')
    expect(enrolHtml).toContain('<h1>Activer la validation en deux étapes</h1>')
    await enrolTotp(t, first.jar)
    const step = await passwordStep(t, { username: 'otto', extra: { ui_locales: 'fr' } })
    const html = await step.res.text()
    expect(step.res.status).toBe(200)
    expect(html).toContain('<html lang="fr">')
    expect(html).toContain('<h1>Validation en deux étapes</h1>')
    expect(html).toContain('<button type="submit">Valider</button>')
    const wrong = await submitCode(t, step.jar, html, '000000')
    const page = await wrong.text()
    expect(wrong.status).toBe(400)
    expect(page).toContain(
      '<div id="form-error"><p class="alert" role="alert">Ce code n&#39;est pas valide. Réessayez.</p></div>',
    )
    expect(page).toMatch(/id="code"[^>]*aria-describedby="form-error"/)
  })

  it('the sign-out page in French by Accept-Language', async () => {
    const res = await fetch(`${t.url}/logout`, { headers: { 'accept-language': 'fr-BE' } })
    const html = await res.text()
    expect(res.status).toBe(200)
    expect(html).toContain('<html lang="fr">')
    // No sign-in in this browser: nothing to confirm.
    expect(html).toContain(
      '<h1>Déconnecté</h1><p>Vous êtes déconnecté. Vous pouvez fermer cette page.</p>',
    )
  })

  it('discovery lists the languages of the pages', async () => {
    const doc = (await (await fetch(`${t.url}/.well-known/openid-configuration`)).json()) as {
      ui_locales_supported: string[]
    }
    expect(doc.ui_locales_supported).toEqual(['en', 'fr'])
  })
})
