import { connect, type Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

let t: TestServer | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

function open(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s))
    s.once('error', reject)
  })
}

/** Everything the server sends until it closes the socket. */
function untilClosed(s: Socket): Promise<string> {
  let got = ''
  s.setEncoding('utf8').on('data', (c: string) => (got += c))
  s.on('error', () => undefined)
  return new Promise((resolve) => s.once('close', () => resolve(got)))
}

/** A raw request on `s`, resolving with the response head and body once the server answers. */
function rawGet(s: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = ''
    s.setEncoding('utf8')
    const onData = (c: string) => {
      got += c
      const end = got.indexOf('\r\n\r\n')
      const len = /content-length: (\d+)/i.exec(got)?.[1]
      if (end >= 0 && len !== undefined && got.length >= end + 4 + Number(len)) {
        s.off('data', onData)
        resolve(got)
      }
    }
    s.on('data', onData)
    s.once('error', reject)
    s.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`)
  })
}

describe('HTTP timeouts and limits', () => {
  it('a slowloris (headers sent a byte at a time) is answered 408 and cut at http.headersTimeoutMs, while a normal request is served', async () => {
    t = await startTestServer({
      config: { http: { headersTimeoutMs: 500, requestTimeoutMs: 1000 } },
    })
    const slow = await open(t.url)
    const closed = untilClosed(slow)
    const head = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: '
    let i = 0
    // One byte every 100 ms, never finishing the headers: the header never ends by itself.
    const drip = setInterval(() => {
      if (slow.writable) slow.write(i < head.length ? head[i++]! : 'a')
    }, 100)
    try {
      // Meanwhile another client is served as usual.
      const normal = await open(t.url)
      expect(await rawGet(normal, '/healthz')).toMatch(/^HTTP\/1\.1 200 /)
      normal.destroy()

      const answer = await closed
      expect(answer).toMatch(/^HTTP\/1\.1 408 /)
      // Still dripping when it was cut: the server closed it, not the client.
      expect(slow.destroyed).toBe(true)
    } finally {
      clearInterval(drip)
      slow.destroy()
    }
    // The server goes on serving new connections.
    const after = await open(t.url)
    expect(await rawGet(after, '/healthz')).toMatch(/^HTTP\/1\.1 200 /)
    after.destroy()
  })

  it('an idle kept-alive connection is closed after http.keepAliveTimeoutMs', async () => {
    t = await startTestServer({ config: { http: { keepAliveTimeoutMs: 300 } } })
    const s = await open(t.url)
    const closed = untilClosed(s)
    s.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    const got = await closed
    // One response, then the server closed the idle connection by itself.
    expect(got).toMatch(/^HTTP\/1\.1 200 /)
    expect(got.match(/HTTP\/1\.1/g)).toHaveLength(1)
    expect(got.toLowerCase()).toContain('keep-alive: timeout=')
  })

  it('http.maxConnections: connections beyond the cap are closed unanswered; freed slots serve again', async () => {
    t = await startTestServer({ config: { http: { maxConnections: 2 } } })
    const a = await open(t.url)
    const b = await open(t.url)
    // Both held connections are served.
    expect(await rawGet(a, '/healthz')).toMatch(/^HTTP\/1\.1 200 /)
    expect(await rawGet(b, '/healthz')).toMatch(/^HTTP\/1\.1 200 /)
    // A third is accepted by the kernel, then closed by the server without an answer.
    const c = await open(t.url)
    const closed = untilClosed(c)
    c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    expect(await closed).toBe('')
    // Once one of the two goes, a new connection is served.
    await new Promise<void>((resolve) => {
      a.once('close', () => resolve())
      a.destroy()
    })
    let served = ''
    for (let attempt = 0; attempt < 50 && served === ''; attempt++) {
      // The server learns of the close asynchronously; retry until its count has dropped.
      const d = await open(t.url)
      const dClosed = untilClosed(d)
      d.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
      served = await dClosed
      if (served === '') await new Promise((r) => setTimeout(r, 20))
    }
    expect(served).toMatch(/^HTTP\/1\.1 200 /)
    b.destroy()
  })

  it('http.maxHeaderSize: larger request headers get 431', async () => {
    t = await startTestServer({ config: { http: { maxHeaderSize: 4096 } } })
    const ok = await fetch(`${t.url}/healthz`, { headers: { 'x-pad': 'a'.repeat(3000) } })
    expect(ok.status).toBe(200)
    const big = await fetch(`${t.url}/healthz`, { headers: { 'x-pad': 'a'.repeat(5000) } })
    expect(big.status).toBe(431)
  })
})
