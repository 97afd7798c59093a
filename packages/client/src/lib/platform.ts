import { TesseraClientError } from '../errors.js'

const URL_POLYFILL =
  "install react-native-url-polyfill and import 'react-native-url-polyfill/auto' before creating the client"

/**
 * Checks that `URL` and `URLSearchParams` are whole WHATWG implementations. React Native's
 * built-in ones are not: `URL` implements `href` only (`protocol`, `pathname`, `origin`, ...
 * throw) and `URLSearchParams` only `append` and `toString`. Throws a `configuration` error that
 * says what to install, instead of a raw `Error` from deep inside.
 */
export function checkUrlSupport(): void {
  const g = globalThis as { URL?: unknown; URLSearchParams?: unknown }
  if (typeof g.URL !== 'function' || typeof g.URLSearchParams !== 'function') {
    const missing = typeof g.URL !== 'function' ? 'URL' : 'URLSearchParams'
    throw new TesseraClientError(
      'configuration',
      `no ${missing} on this platform: ${URL_POLYFILL} (React Native), or provide a WHATWG ${missing}`,
    )
  }
  let complete: boolean
  try {
    const u = new URL('https://a.example:8443/p/q?x=1#h')
    const p = new URLSearchParams('a=1&b=2')
    p.set('c', '3')
    complete =
      u.protocol === 'https:' &&
      u.hostname === 'a.example' &&
      u.origin === 'https://a.example:8443' &&
      u.pathname === '/p/q' &&
      u.search === '?x=1' &&
      u.hash === '#h' &&
      u.searchParams.get('x') === '1' &&
      p.get('b') === '2' &&
      p.toString() === 'a=1&b=2&c=3'
  } catch {
    complete = false
  }
  if (!complete) {
    throw new TesseraClientError(
      'configuration',
      `this platform's URL is incomplete (React Native's built-in URL implements only href): ${URL_POLYFILL}`,
    )
  }
}
