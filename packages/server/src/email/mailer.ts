/**
 * The outgoing mail queue. Composing a message (finding the user, making its link, rendering)
 * and sending it run after the request has been answered, one job at a time: a request that asks
 * for mail costs the same whether or not a message results (no account enumeration by timing),
 * and a slow relay never holds a request.
 *
 * @example
 * ctx.mailer.queue('password reset', async () => ({ to, ...templates.render('reset-password', v) }))
 * await ctx.mailer.idle() // tests, shutdown
 */
import type { FastifyBaseLogger } from 'fastify'
import { sendFailure, type MailTransport, type OutgoingMail } from './mail-transport.js'

/** A job returns the message(s) to send, or nothing. */
export type MailJob = () => Promise<
  Omit<OutgoingMail, 'from'>[] | Omit<OutgoingMail, 'from'> | undefined
>

export class Mailer {
  readonly transport: MailTransport | undefined
  readonly #from: string
  readonly #log: FastifyBaseLogger
  #tail: Promise<void> = Promise.resolve()
  #pending = 0

  constructor(transport: MailTransport | undefined, from: string, log: FastifyBaseLogger) {
    this.transport = transport
    this.#from = from
    this.#log = log
  }

  /** Whether mail can be sent at all (a relay is configured, or dev mode catches it). */
  get available(): boolean {
    return this.transport !== undefined
  }

  /** Runs `job` after the jobs queued before it; failures are logged (`what`, never the
   * message or an address) and dropped. */
  queue(what: string, job: MailJob): void {
    const transport = this.transport
    if (!transport) return
    this.#pending++
    this.#tail = this.#tail.then(async () => {
      // Let the request's answer leave first: SQLite reads are synchronous and would otherwise
      // run before it is written, and make an answer that queued a message slower.
      await new Promise((resolve) => setImmediate(resolve))
      try {
        const out = await job()
        const list = out === undefined ? [] : Array.isArray(out) ? out : [out]
        for (const m of list) await transport.send({ from: this.#from, ...m })
      } catch (err) {
        this.#log.warn({ mail: what, error: sendFailure(err) }, 'mail not sent')
      } finally {
        this.#pending--
      }
    })
  }

  /** Resolves once every job queued so far has run. */
  async idle(): Promise<void> {
    while (this.#pending > 0) await this.#tail
  }

  async close(): Promise<void> {
    await this.idle()
    this.transport?.close()
  }
}
