import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Timers } from '../../src/webhooks/dispatcher.js'

/** One request the receiver got. */
export interface Received {
  id: string
  timestamp: string
  signature: string
  headers: Record<string, string>
  body: string
  /** The receiver's count of requests when this one came (1 for the first). */
  n: number
}

/** What to answer: a status (with optional headers, after an optional delay), or `hang` to never
 * answer. */
export type Answer =
  number | { status: number; headers?: Record<string, string>; delayMs?: number } | 'hang'

/**
 * A real webhook receiver on 127.0.0.1: records every request exactly as it arrived and answers as
 * `answer` says (default 204). It can go down and come back on the same port.
 */
export class Receiver {
  readonly received: Received[] = []
  answer: (r: Received) => Answer = () => 204
  /** While set, every request is held (recorded, not answered) until the promise settles. */
  gate: Promise<void> | undefined
  #server: Server | undefined
  #port = 0

  static async start(): Promise<Receiver> {
    const r = new Receiver()
    await r.up()
    return r
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}/hooks/tessera`
  }

  /** Listens (again) on the same port; the first call picks a free one. */
  async up(): Promise<void> {
    const server = createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.#port, '127.0.0.1', () => resolve())
    })
    this.#port = (server.address() as AddressInfo).port
    this.#server = server
  }

  /** Stops listening and drops open connections: deliveries now fail with ECONNREFUSED. */
  async down(): Promise<void> {
    const s = this.#server
    if (!s) return
    this.#server = undefined
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  /** The ids received, in order (with repeats). */
  ids(): string[] {
    return this.received.map((r) => r.id)
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string') headers[k] = v
    }
    const r: Received = {
      id: headers['webhook-id'] ?? '',
      timestamp: headers['webhook-timestamp'] ?? '',
      signature: headers['webhook-signature'] ?? '',
      headers,
      body: Buffer.concat(chunks).toString('utf8'),
      n: this.received.length + 1,
    }
    this.received.push(r)
    if (this.gate) await this.gate
    const a = this.answer(r)
    if (a === 'hang') return
    const { status, headers: extra = {}, delayMs = 0 } = typeof a === 'number' ? { status: a } : a
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    res.writeHead(status, extra).end()
  }
}

/** Timers that never fire by themselves: the tests drive the dispatcher with runOnce(). */
export const manualTimers: Timers = {
  setTimeout: () => Symbol('never'),
  clearTimeout: () => undefined,
}

/** A fresh Standard Webhooks secret. */
export function newSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`
}
