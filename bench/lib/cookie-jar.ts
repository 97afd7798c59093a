import type { IncomingHttpHeaders } from 'node:http'

/**
 * Enough of a cookie jar to drive one browser sign-in against one origin: keeps name=value pairs,
 * honours deletion (Max-Age=0 or an Expires in the past), and sends every cookie it holds.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>()

  store(headers: IncomingHttpHeaders): void {
    for (const line of headers['set-cookie'] ?? []) {
      const [pair = '', ...attrs] = line.split(';')
      const eq = pair.indexOf('=')
      if (eq < 1) continue
      const name = pair.slice(0, eq).trim()
      const value = pair.slice(eq + 1).trim()
      const expired = attrs.some((a) => {
        const [k = '', v = ''] = a.split('=').map((s) => s.trim())
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now()
        return false
      })
      if (expired || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
  }

  header(): Record<string, string> {
    if (this.#cookies.size === 0) return {}
    return { cookie: [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ') }
  }
}
