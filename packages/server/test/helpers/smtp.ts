import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/** A real SMTP server on 127.0.0.1 (ephemeral port) that keeps every message, parsed. */
export class TestSmtp {
  readonly messages: ParsedMail[] = []
  /** AUTH attempts seen (user names only). */
  readonly logins: string[] = []
  /** Milliseconds the server waits before accepting a message, as a slow relay does. */
  delayMs = 0
  readonly #waiters: (() => void)[] = []
  readonly #server: SMTPServer
  port = 0

  constructor(auth?: { user: string; pass: string }) {
    this.#server = new SMTPServer({
      disabledCommands: ['STARTTLS'],
      authOptional: auth === undefined,
      logger: false,
      onAuth: (a, _session, cb) => {
        this.logins.push(a.username ?? '')
        if (auth && a.username === auth.user && a.password === auth.pass)
          cb(null, { user: a.username })
        else cb(new Error('invalid credentials'))
      },
      onData: (stream, _session, cb) => {
        simpleParser(stream)
          .then((m) => {
            setTimeout(() => {
              this.messages.push(m)
              for (const w of this.#waiters.splice(0)) w()
              cb()
            }, this.delayMs)
          })
          .catch((err: Error) => cb(err))
      },
    })
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()))
    const addr = this.#server.server.address()
    this.port = typeof addr === 'object' && addr ? addr.port : 0
    return this
  }

  /** The first message (from `from` on) that matches, waiting up to 10 s for it. */
  async next(match: (m: ParsedMail) => boolean = () => true, from = 0): Promise<ParsedMail> {
    const deadline = Date.now() + 10_000
    for (;;) {
      const found = this.messages.slice(from).find(match)
      if (found) return found
      if (Date.now() > deadline) throw new Error('no matching mail within 10 s')
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
  }

  /** The link of the issuer found in a message's text part. */
  static link(m: ParsedMail, path: string): string {
    for (const u of (m.text ?? '').match(/https?:\/\/\S+/g) ?? []) {
      if (new URL(u).pathname === path) return u
    }
    throw new Error(`no ${path} link in the mail`)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
