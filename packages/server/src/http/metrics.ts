/** A small Prometheus text-format registry: labelled counters and one latency histogram. */

type Labels = Record<string, string>

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, '_')}"`)
    .join(',')
}

class Counter {
  readonly values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels)
    this.values.set(k, (this.values.get(k) ?? 0) + by)
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`]
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`)
    return lines.join('\n')
  }
}

class Histogram {
  readonly series = new Map<string, { buckets: number[]; sum: number; count: number }>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  observe(labels: Labels, valueSeconds: number): void {
    const k = key(labels)
    let s = this.series.get(k)
    if (!s) {
      s = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }
      this.series.set(k, s)
    }
    for (let i = 0; i < BUCKETS.length; i++)
      if (valueSeconds <= (BUCKETS[i] as number)) s.buckets[i]! += 1
    s.sum += valueSeconds
    s.count += 1
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`]
    for (const [k, s] of this.series) {
      const pre = k ? `${k},` : ''
      BUCKETS.forEach((b, i) => lines.push(`${this.name}_bucket{${pre}le="${b}"} ${s.buckets[i]}`))
      lines.push(`${this.name}_bucket{${pre}le="+Inf"} ${s.count}`)
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`)
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`)
    }
    return lines.join('\n')
  }
}

export class Metrics {
  readonly requests = new Counter(
    'tessera_http_requests_total',
    'HTTP requests by route and status',
  )
  readonly duration = new Histogram(
    'tessera_http_request_duration_seconds',
    'HTTP request latency by route',
  )
  readonly tokens = new Counter('tessera_tokens_issued_total', 'Tokens issued by grant type')
  readonly grantErrors = new Counter('tessera_grant_errors_total', 'Token endpoint errors by code')
  readonly reuse = new Counter('tessera_refresh_reuse_total', 'Refresh token reuse detections')
  readonly signIns = new Counter('tessera_sign_ins_total', 'Sign-in attempts by result')
  readonly signInSlowdowns = new Counter(
    'tessera_sign_in_slowdowns_total',
    'Sign-in attempts delayed because their username is under a distributed attack',
  )
  readonly webhookDeliveries = new Counter(
    'tessera_webhook_deliveries_total',
    'Webhook delivery attempts by result (delivered, retry, failed)',
  )

  /** Process and database-pool gauges, read at scrape time (set by the server). */
  runtime: { render(): string } | undefined

  render(): string {
    return (
      [
        this.requests,
        this.duration,
        this.tokens,
        this.grantErrors,
        this.reuse,
        this.signIns,
        this.signInSlowdowns,
        this.webhookDeliveries,
        ...(this.runtime ? [this.runtime] : []),
      ]
        .map((m) => m.render())
        .join('\n') + '\n'
    )
  }
}
