import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonOrText } from '../helpers/grants.js'
import { freePort } from '../helpers/test-server.js'
import { startChildServer, type ChildServer } from './support.js'

/**
 * REL-07, the shutdown answer: while a server drains after SIGTERM, a request that arrives on a
 * connection that is still open gets 503 `temporarily_unavailable` with Retry-After, no-store and
 * `Connection: close` (the README's error table), not Fastify's own 503; and every response
 * finished during the drain says `Connection: close`, so no client keeps a connection to a server
 * that is going away.
 *
 * Both cases are made certain, not timed: each connection has a request under way that the server
 * has provably read when SIGTERM arrives, so Node does not close it as idle, and the test sends
 * the rest only once the drain is observable (the listening socket refuses new connections):
 * - a request head missing its blank line, written in one write together with a complete request
 *   before it: the answer to the first proves the server read that segment, and Node's parser
 *   began the second message in the same pass;
 * - a POST with `Expect: 100-continue` whose body lacks its last byte: the interim
 *   `100 Continue` proves its head was parsed.
 */

interface Response {
  status: number
  headers: Record<string, string>
  body: any
}

/** A raw HTTP/1.1 connection: we decide when each byte is sent. */
class RawConnection {
  readonly socket: Socket
  #data = Buffer.alloc(0)
  readonly ended: Promise<void>

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => (this.#data = Buffer.concat([this.#data, d])))
    this.ended = new Promise((resolve) => {
      socket.once('end', resolve)
      socket.once('close', resolve)
    })
  }

  static open(url: string): Promise<RawConnection> {
    const u = new URL(url)
    return new Promise((resolve, reject) => {
      const s = connect(Number(u.port), u.hostname)
      s.once('error', reject)
      s.once('connect', () => resolve(new RawConnection(s)))
    })
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.socket.write(text, (err) => (err ? reject(err) : resolve())),
    )
  }

  /** Consumes the interim `100 Continue` answer. */
  async continued(timeoutMs = 10_000): Promise<void> {
    const interim = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n')
    const deadline = Date.now() + timeoutMs
    while (this.#data.length < interim.length) {
      if (Date.now() > deadline) throw new Error('no 100 Continue')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(this.#data.subarray(0, interim.length).toString('latin1')).toBe(interim.toString())
    this.#data = this.#data.subarray(interim.length)
  }

  /** The next complete response (Content-Length framed). */
  async response(timeoutMs = 10_000): Promise<Response> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const r = this.#parse()
      if (r) return r
      if (Date.now() > deadline) throw new Error('no complete response')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  #parse(): Response | undefined {
    const split = this.#data.indexOf('\r\n\r\n')
    if (split < 0) return undefined
    const lines = this.#data.subarray(0, split).toString('latin1').split('\r\n')
    const headers: Record<string, string> = {}
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':')
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
    }
    const length = Number(headers['content-length'])
    if (this.#data.length < split + 4 + length) return undefined
    const body = this.#data.subarray(split + 4, split + 4 + length).toString('utf8')
    this.#data = this.#data.subarray(split + 4 + length)
    return { status: Number(lines[0]?.split(' ')[1]), headers, body: jsonOrText(body) }
  }
}

/** Resolves once the server's listening socket refuses connections (the drain has begun). */
async function untilRefused(url: string, timeoutMs = 10_000): Promise<void> {
  const u = new URL(url)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(Number(u.port), u.hostname)
      s.once('connect', () => {
        s.destroy()
        resolve(false)
      })
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
    })
    if (refused) return
    if (Date.now() > deadline) throw new Error('the server kept accepting connections')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe('REL-07 the answer while the server drains after SIGTERM', () => {
  let dir: string
  let server: ChildServer

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-rel07-drain-'))
    server = await startChildServer({ dbFile: join(dir, 'tessera.db'), port: await freePort() })
  })
  afterAll(() => {
    if (server.process.exitCode === null && server.process.signalCode === null) {
      server.process.kill('SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  })

  it('REL-07 a request arriving during the drain: 503 temporarily_unavailable, Retry-After, no-store, Connection: close; a response finished during the drain closes its connection; exit 0', async () => {
    const host = new URL(server.url).host

    // A kept-alive connection that has answered once already, now with its next request's head
    // under way (all but the blank line that ends it).
    const arriving = await RawConnection.open(server.url)
    await arriving.write(
      `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n` +
        `GET /.well-known/openid-configuration HTTP/1.1\r\nHost: ${host}\r\n`,
    )
    const first = await arriving.response()
    expect([first.status, first.headers.connection]).toStrictEqual([200, 'keep-alive'])

    // A request under way: its head was read (100 Continue), its body lacks the last byte.
    const body = 'grant_type=refresh_token&client_id=web-app&refresh_token=tsr_unknown'
    const inFlight = await RawConnection.open(server.url)
    await inFlight.write(
      `POST /oauth/token HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n` +
        `Expect: 100-continue\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`,
    )
    await inFlight.continued()
    await inFlight.write(body.slice(0, -1))

    server.process.kill('SIGTERM')
    await untilRefused(server.url)

    await arriving.write('\r\n')
    const refused = await arriving.response()
    expect(refused.status).toBe(503)
    expect(refused.body).toStrictEqual({
      error: 'temporarily_unavailable',
      error_description: 'the server is shutting down, retry',
    })
    expect(refused.headers['retry-after']).toBe('1')
    expect(refused.headers['cache-control']).toBe('no-store')
    expect(refused.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(refused.headers.connection).toBe('close')
    await arriving.ended

    await inFlight.write(body.slice(-1))
    const finished = await inFlight.response()
    // The request itself is served normally (an unknown refresh token is invalid_grant) ...
    expect([finished.status, finished.body.error]).toStrictEqual([400, 'invalid_grant'])
    // ... and its connection is closed after it.
    expect(finished.headers.connection).toBe('close')
    await inFlight.ended

    expect(await server.exited).toStrictEqual({ code: 0, signal: null })
  })
})
