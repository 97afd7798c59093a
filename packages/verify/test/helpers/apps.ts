import { serve } from '@hono/node-server'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { withAuth } from '../../src/http/with-auth.js'
import * as ex from '../../src/middleware/express.js'
import * as fa from '../../src/middleware/fastify.js'
import * as ho from '../../src/middleware/hono.js'
import type { TokenVerifier, VerifiedToken } from '../../src/verifier/verified-token.js'

/**
 * One API, built with each binding, on a real server on 127.0.0.1 with an ephemeral port:
 *
 * | route          | protection                                         |
 * |----------------|----------------------------------------------------|
 * | GET /api/me    | authenticate (mounted for /api)                    |
 * | GET /api/orders| authenticate, then requireScope('orders')          |
 * | GET /write     | authenticate with the `scopes: ['write']` option   |
 * | GET /fresh     | authenticate with `maxAge: 60` (RFC 9470)          |
 * | GET /strong    | authenticate with `acrValues: [MFA]` and `scopes: ['write']` |
 *
 * Each answers 200 with `{ route, sub, scopes }`.
 */
export interface RunningApp {
  url: string
  close(): Promise<void>
}

export type StartApp = (verifier: TokenVerifier) => Promise<RunningApp>

export const MFA = 'urn:tessera:acr:mfa'
const FRESH = { maxAge: 60 }
const STRONG = { acrValues: [MFA], scopes: ['write'] }

const body = (route: string, auth: VerifiedToken | undefined) => ({
  route,
  sub: auth?.claims.sub,
  scopes: auth?.scopes,
})

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.closeAllConnections()
    server.close((err) => (err ? reject(err) : resolve()))
  })
}

export const startFastify: StartApp = async (verifier) => {
  const app = Fastify({ logger: false })
  // The plugin protects every route of its scope; the hooks protect single routes.
  await app.register(async (api) => {
    await api.register(fa.tesseraVerify, { verifier })
    api.get('/api/me', (req) => body('me', req.auth))
    api.get('/api/orders', { preHandler: fa.requireScope('orders') }, (req) =>
      body('orders', req.auth),
    )
  })
  app.get('/write', { preHandler: fa.authenticate(verifier, { scopes: ['write'] }) }, (req) =>
    body('write', req.auth),
  )
  app.get('/fresh', { preHandler: fa.authenticate(verifier, FRESH) }, (req) =>
    body('fresh', req.auth),
  )
  app.get('/strong', { preHandler: fa.authenticate(verifier, STRONG) }, (req) =>
    body('strong', req.auth),
  )
  const url = await app.listen({ port: 0, host: '127.0.0.1' })
  return { url, close: () => app.close() }
}

export const startExpress: StartApp = async (verifier) => {
  const app = express()
  app.use('/api', ex.authenticate(verifier))
  app.get('/api/me', (req, res) => {
    res.json(body('me', req.auth))
  })
  app.get('/api/orders', ex.requireScope('orders'), (req, res) => {
    res.json(body('orders', req.auth))
  })
  app.get('/write', ex.authenticate(verifier, { scopes: ['write'] }), (req, res) => {
    res.json(body('write', req.auth))
  })
  app.get('/fresh', ex.authenticate(verifier, FRESH), (req, res) => {
    res.json(body('fresh', req.auth))
  })
  app.get('/strong', ex.authenticate(verifier, STRONG), (req, res) => {
    res.json(body('strong', req.auth))
  })
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) }
}

async function serveFetch(
  fetch: (req: Request) => Response | Promise<Response>,
): Promise<RunningApp> {
  let server: Server | undefined
  const port = await new Promise<number>((resolve) => {
    server = serve(
      { fetch, port: 0, hostname: '127.0.0.1', overrideGlobalObjects: false },
      (info) => resolve(info.port),
    ) as Server
  })
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server as Server) }
}

export const startHono: StartApp = (verifier) => {
  const app = new Hono<ho.AuthEnv>()
  app.use('/api/*', ho.authenticate(verifier))
  app.get('/api/me', (c) => c.json(body('me', c.var.auth)))
  app.get('/api/orders', ho.requireScope('orders'), (c) => c.json(body('orders', c.var.auth)))
  app.get('/write', ho.authenticate(verifier, { scopes: ['write'] }), (c) =>
    c.json(body('write', c.var.auth)),
  )
  app.get('/fresh', ho.authenticate(verifier, FRESH), (c) => c.json(body('fresh', c.var.auth)))
  app.get('/strong', ho.authenticate(verifier, STRONG), (c) => c.json(body('strong', c.var.auth)))
  return serveFetch((req) => app.fetch(req))
}

export const startFetchHandler: StartApp = (verifier) => {
  const me = withAuth(verifier, (_req, auth) => Response.json(body('me', auth)))
  const orders = withAuth(verifier, (_req, auth) => Response.json(body('orders', auth)), {
    scopes: ['orders'],
  })
  const write = withAuth(verifier, (_req, auth) => Response.json(body('write', auth)), {
    scopes: ['write'],
  })
  const routes: Record<string, (req: Request) => Promise<Response>> = {
    '/api/me': me,
    '/api/orders': orders,
    '/write': write,
    '/fresh': withAuth(verifier, (_req, auth) => Response.json(body('fresh', auth)), FRESH),
    '/strong': withAuth(verifier, (_req, auth) => Response.json(body('strong', auth)), STRONG),
  }
  return serveFetch((req) => {
    const route = routes[new URL(req.url).pathname]
    return route ? route(req) : new Response('not found', { status: 404 })
  })
}
