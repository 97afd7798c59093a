import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'
import { storeFailure } from '../store/store-failure.js'

/** `/healthz` (the process answers), `/readyz` (the store answers). Served on every listener. */
export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/healthz', (_req, reply) => {
    reply.header('cache-control', 'no-store').send({ status: 'ok' })
  })
  app.get('/readyz', async (_req, reply) => {
    try {
      await ctx.store.ping()
      return reply.header('cache-control', 'no-store').send({ status: 'ready' })
    } catch (err) {
      const failure = storeFailure(err)
      if (failure) app.storeOutage.report(failure, err, '/readyz')
      else ctx.log.error({ err }, 'store not ready')
      return reply
        .code(503)
        .header('retry-after', '5')
        .header('cache-control', 'no-store')
        .send({ status: 'unavailable' })
    }
  })
}

/** `/metrics` (Prometheus text): on the public listener, or on its own with `metrics.port`. */
export function metricsRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/metrics', (_req, reply) => {
    reply
      .header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(ctx.metrics.render())
  })
}
