import type { FastifyRequest } from 'fastify'
import { parseParams, type Params } from '../../http/form.js'

/** The request's query string as Params, every value of every name kept (duplicates detectable). */
export function queryParams(req: FastifyRequest): Params {
  const i = req.url.indexOf('?')
  return parseParams(i < 0 ? '' : req.url.slice(i + 1))
}

/** The request's form body as Params; anything else (JSON, no body) is refused by the caller. */
export function formParams(req: FastifyRequest): Params | undefined {
  return req.body instanceof Map ? (req.body as Params) : undefined
}
