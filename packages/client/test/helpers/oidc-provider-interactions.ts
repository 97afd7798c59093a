import { expect } from 'vitest'
import { browserFetch, CookieJar, formFields } from '../../../server/test/helpers/oauth-flow.js'

/**
 * Follows oidc-provider's development login and consent pages like a browser (user `alice`), up
 * to the redirect back to `redirectUri`.
 */
export async function followInteractions(start: URL, redirectUri: string): Promise<URL> {
  const jar = new CookieJar()
  let url = start.href
  let res = await browserFetch(jar, url)
  for (let step = 0; step < 20; step++) {
    if (res.status >= 300 && res.status < 400) {
      const loc = new URL(res.headers.get('location')!, url)
      if (loc.href.startsWith(redirectUri)) return loc
      url = loc.href
      res = await browserFetch(jar, url)
      continue
    }
    const html = await res.text()
    expect(
      res.status,
      html
        .replace(/<style[^]*<\/style>/, '')
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .slice(0, 400),
    ).toBe(200)
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
    expect(action).toBeTruthy()
    const fields = formFields(html)
    if ('login' in fields || html.includes('name="login"')) {
      fields.login = 'alice'
      fields.password = 'any password'
    }
    url = new URL(action!.replace(/&amp;/g, '&'), url).href
    res = await browserFetch(jar, url, { form: fields })
  }
  throw new Error('too many interaction steps')
}
