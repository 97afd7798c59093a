import type { FastifyRequest } from 'fastify'
import { param, type Params } from '../../http/form.js'
import { queryParams } from '../../oauth/authorize/query-params.js'
import { InvalidRequest } from '../../oauth/errors.js'

/**
 * Shape checks of Admin API input: a JSON body must be an object with known fields of the right
 * types; a query may carry only known parameters, once each. Anything else is a 400 naming the
 * field. Semantic rules (formats, ranges between fields) are the services' own.
 */
export type Field =
  | { type: 'string'; max: number; nullable?: boolean }
  | { type: 'strings' }
  | { type: 'int'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'object' }
  | { type: 'boolean'; nullable?: boolean }

export type Spec = Record<string, Field>

type Value<F extends Field> = F extends { type: 'boolean'; nullable: true }
  ? boolean | null
  : F extends { type: 'boolean' }
    ? boolean
    : F extends { type: 'string'; nullable: true }
      ? string | null
      : F extends { type: 'string' }
        ? string
        : F extends { type: 'strings' }
          ? string[]
          : F extends { type: 'int' }
            ? number
            : F extends { type: 'enum'; values: readonly (infer V)[] }
              ? V
              : Record<string, unknown>

export type Body<S extends Spec> = { [K in keyof S]?: Value<S[K]> }

/** The JSON body, checked against `spec`; `required` fields must be present (and not null). */
export function jsonBody<S extends Spec>(
  req: FastifyRequest,
  spec: S,
  required: readonly (keyof S & string)[] = [],
): Body<S> {
  const body = req.body
  if (body === undefined || body === null) {
    if (required.length === 0) return {}
    throw new InvalidRequest(
      'the request body must be a JSON object (Content-Type: application/json)',
    )
  }
  if (typeof body !== 'object' || Array.isArray(body) || body instanceof Map) {
    throw new InvalidRequest(
      'the request body must be a JSON object (Content-Type: application/json)',
    )
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(body)) {
    const f = Object.hasOwn(spec, key) ? spec[key] : undefined
    if (!f) throw new InvalidRequest(`unknown field ${key.slice(0, 64)}`)
    out[key] = checkField(key, f, value)
  }
  for (const key of required) {
    if (out[key] === undefined || out[key] === null) throw new InvalidRequest(`${key} is required`)
  }
  return out as Body<S>
}

/** Action endpoints take no input: no body, or an empty JSON object. */
export function noBody(req: FastifyRequest): void {
  jsonBody(req, {})
}

function checkField(key: string, f: Field, v: unknown): unknown {
  switch (f.type) {
    case 'string':
      if (v === null && f.nullable) return null
      if (typeof v !== 'string' || v.length > f.max) {
        throw new InvalidRequest(
          `${key}: must be a string of at most ${f.max} characters${f.nullable ? ', or null' : ''}`,
        )
      }
      return v
    case 'strings':
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
        throw new InvalidRequest(`${key}: must be a list of strings`)
      }
      return v
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < f.min || v > f.max) {
        throw new InvalidRequest(`${key}: must be a whole number from ${f.min} to ${f.max}`)
      }
      return v
    case 'enum':
      if (typeof v !== 'string' || !f.values.includes(v)) {
        throw new InvalidRequest(`${key}: must be one of ${f.values.join(', ')}`)
      }
      return v
    case 'boolean':
      if (v === null && f.nullable) return null
      if (typeof v !== 'boolean') {
        throw new InvalidRequest(`${key}: must be true or false${f.nullable ? ', or null' : ''}`)
      }
      return v
    case 'object':
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        throw new InvalidRequest(`${key}: must be a JSON object`)
      }
      return v
  }
}

export type QueryField =
  | { type: 'string'; max: number }
  | { type: 'int'; min: number; max: number }
  | { type: 'enum'; values: readonly string[] }
  /** Milliseconds since the epoch, or an ISO 8601 date-time with a zone (`2026-01-01T00:00:00Z`). */
  | { type: 'time' }

type QueryValue<F extends QueryField> = F extends { type: 'int' } | { type: 'time' }
  ? number
  : F extends { type: 'enum'; values: readonly (infer V)[] }
    ? V
    : string

export type Query<S extends Record<string, QueryField>> = { [K in keyof S]?: QueryValue<S[K]> }

const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/

/** Parses a time filter: ms since the epoch, or ISO 8601 with a zone. */
export function parseTime(name: string, raw: string): number {
  if (/^\d{1,15}$/.test(raw)) return Number(raw)
  const t = ISO.test(raw) ? Date.parse(raw) : NaN
  if (!Number.isFinite(t)) {
    throw new InvalidRequest(
      `${name}: must be milliseconds since the epoch or an ISO 8601 time such as 2026-01-01T00:00:00Z`,
    )
  }
  return t
}

/** The query string, checked against `spec`; an empty value counts as absent. */
export function queryOf<S extends Record<string, QueryField>>(
  req: FastifyRequest,
  spec: S,
): Query<S> {
  return readParams(queryParams(req), spec)
}

export function readParams<S extends Record<string, QueryField>>(p: Params, spec: S): Query<S> {
  const out: Record<string, unknown> = {}
  for (const name of p.keys()) {
    if (!Object.hasOwn(spec, name)) {
      throw new InvalidRequest(`unknown query parameter ${name.slice(0, 64)}`)
    }
  }
  for (const [name, f] of Object.entries(spec)) {
    const raw = param(p, name, 'max' in f ? f.max : 64)
    if (raw === undefined) continue
    switch (f.type) {
      case 'string':
        out[name] = raw
        break
      case 'int':
        if (!/^\d{1,9}$/.test(raw) || Number(raw) < f.min || Number(raw) > f.max) {
          throw new InvalidRequest(`${name}: must be a whole number from ${f.min} to ${f.max}`)
        }
        out[name] = Number(raw)
        break
      case 'enum':
        if (!f.values.includes(raw)) {
          throw new InvalidRequest(`${name}: must be one of ${f.values.join(', ')}`)
        }
        out[name] = raw
        break
      case 'time':
        out[name] = parseTime(name, raw)
        break
    }
  }
  return out as Query<S>
}
