/**
 * The example's two demo APIs in one small Node server: `/orders/*` accepts only access tokens
 * for the orders audience, `/billing/*` only those for the billing audience, both checked with
 * `@tessera/verify` against the issuer. CORS is open (no cookies: the app sends a Bearer token),
 * so the web build on another origin can call it too.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createVerifier, withAuth, type AccessTokenClaims } from '@tessera/verify'

export const AUDIENCES = {
  orders: 'https://orders.demo.tessera.test',
  billing: 'https://billing.demo.tessera.test',
} as const

/** What each API answers, from the verified token's claims. */
const ANSWERS: Record<keyof typeof AUDIENCES, (c: AccessTokenClaims) => unknown> = {
  orders: (c) => ({
    api: 'orders',
    customer: c.sub,
    orders: [{ id: 'A-1001', total: '42.00 EUR' }],
  }),
  billing: (c) => ({ api: 'billing', customer: c.sub, plan: c.plan ?? 'free', invoices: 3 }),
}

export interface ApiServerOptions {
  /** Tessera's issuer, e.g. `http://localhost:4000`. */
  issuer: string
  /** Default 5180; 0 picks a free port. */
  port?: number
  /** Address to listen on. Default 127.0.0.1 (`0.0.0.0` for a phone on the LAN). */
  host?: string
}

export interface ApiServer {
  /** `http://<host>:<port>`, the app's `EXPO_PUBLIC_API_URL`. */
  url: string
  close(): Promise<void>
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
  'access-control-allow-headers': 'authorization, dpop',
  'access-control-expose-headers': 'www-authenticate',
  'access-control-max-age': '600',
}

export async function startApiServer(o: ApiServerOptions): Promise<ApiServer> {
  const handlers = Object.fromEntries(
    (Object.keys(AUDIENCES) as (keyof typeof AUDIENCES)[]).map((name) => [
      name,
      withAuth(createVerifier({ issuer: o.issuer, audience: AUDIENCES[name] }), (_req, auth) =>
        Response.json(ANSWERS[name](auth.claims)),
      ),
    ]),
  )
  const host = o.host ?? '127.0.0.1'
  let base = ''
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS)
      return res.end()
    }
    const name = /^\/(orders|billing)\//.exec(req.url ?? '')?.[1]
    const handler = name === undefined ? undefined : handlers[name]
    if (req.method !== 'GET' || handler === undefined) {
      res.writeHead(404, { ...CORS, 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: 'not_found' }))
    }
    const request = new Request(base + (req.url ?? '/'), {
      headers: req.headers.authorization ? { authorization: req.headers.authorization } : {},
    })
    handler(request).then(
      async (r) => {
        res.writeHead(r.status, { ...Object.fromEntries(r.headers), ...CORS })
        res.end(await r.text())
      },
      () => {
        res.writeHead(500, CORS)
        res.end()
      },
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.port ?? 5180, host, resolve)
  })
  const addr = server.address()
  const port = typeof addr === 'object' && addr ? addr.port : o.port
  base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  return {
    url: base,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
