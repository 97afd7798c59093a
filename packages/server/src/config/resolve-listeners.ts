import { ConfigError, type HttpSettings, type MetricsSettings } from './config.js'

/** The listener settings a file or caller gives (`admin.port`, `admin.host`, `metrics`, `http`). */
export interface ListenersInput {
  publicPort: number
  host: string
  admin: { port?: unknown; host?: unknown }
  metrics: unknown
  http: unknown
}

export interface ResolvedListeners {
  admin: { port: number | undefined; host: string }
  metrics: MetricsSettings
  http: HttpSettings
}

/** The documented defaults of `http.*`. */
export const HTTP_DEFAULTS: HttpSettings = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
  maxHeaderSize: 16_384,
}

const HTTP_RANGES: Record<keyof HttpSettings, [number, number]> = {
  headersTimeoutMs: [100, 300_000],
  requestTimeoutMs: [100, 3_600_000],
  keepAliveTimeoutMs: [100, 600_000],
  maxConnections: [1, 1_000_000],
  maxHeaderSize: [4096, 65_536],
}

function whole(setting: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(setting, `must be a whole number from ${min} to ${max}`)
  }
  return v
}

function address(setting: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback
  if (typeof v !== 'string' || v === '') throw new ConfigError(setting, 'must be an address')
  return v
}

function object(setting: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {}
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ConfigError(setting, 'must be an object')
  }
  return v as Record<string, unknown>
}

/**
 * Validates the internal listeners (`admin.port`, `metrics.port`, as Hydra separates its public
 * and admin ports) and the HTTP timeouts and limits; throws ConfigError naming the first bad one.
 * A fixed internal port must differ from the public one; `metrics.port` equal to `admin.port`
 * shares the admin listener (and then its address).
 */
export function resolveListeners(i: ListenersInput): ResolvedListeners {
  const adminPort =
    i.admin.port === undefined ? undefined : whole('admin.port', i.admin.port, 0, 65_535)
  const adminHost = address('admin.host', i.admin.host, i.host)
  const m = object('metrics', i.metrics)
  for (const key of Object.keys(m)) {
    if (key !== 'port' && key !== 'host') {
      throw new ConfigError(`metrics.${key}`, 'is not a known setting')
    }
  }
  const metricsPort = m.port === undefined ? undefined : whole('metrics.port', m.port, 0, 65_535)
  const metricsHost = address('metrics.host', m.host, i.host)
  for (const [setting, port] of [
    ['admin.port', adminPort],
    ['metrics.port', metricsPort],
  ] as const) {
    if (port !== undefined && port !== 0 && port === i.publicPort) {
      throw new ConfigError(setting, 'must differ from port (the public listener)')
    }
  }
  if (
    metricsPort !== undefined &&
    metricsPort !== 0 &&
    metricsPort === adminPort &&
    metricsHost !== adminHost
  ) {
    throw new ConfigError(
      'metrics.host',
      'must equal admin.host when metrics.port is admin.port (one listener)',
    )
  }

  const h = object('http', i.http)
  const http = { ...HTTP_DEFAULTS }
  for (const [key, v] of Object.entries(h)) {
    if (!Object.hasOwn(HTTP_RANGES, key)) {
      throw new ConfigError(`http.${key}`, 'is not a known setting')
    }
    const [min, max] = HTTP_RANGES[key as keyof HttpSettings]
    if (v !== undefined) http[key as keyof HttpSettings] = whole(`http.${key}`, v, min, max)
  }
  if (http.requestTimeoutMs < http.headersTimeoutMs) {
    throw new ConfigError('http.requestTimeoutMs', 'must be at least http.headersTimeoutMs')
  }
  return {
    admin: { port: adminPort, host: adminHost },
    metrics: { port: metricsPort, host: metricsHost },
    http,
  }
}
