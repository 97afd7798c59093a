import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpClient } from '../lib/http.js'
import { checkRefreshResponse, runRefreshChains } from '../lib/load.js'

/**
 * A trivial token endpoint: `ok-<chain>-<n>` rotates to `ok-<chain>-<n+1>`; `err-*` gets
 * invalid_grant; `same-*` comes back unrotated; `bad-*` gets a body that is not JSON. It counts
 * every request it answers.
 */
let server: Server
let url: string
let served = 0
const servedByToken = new Map<string, number>()

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c.toString()))
    req.on('end', () => {
      served += 1
      const rt = new URLSearchParams(body).get('refresh_token') ?? ''
      servedByToken.set(rt, (servedByToken.get(rt) ?? 0) + 1)
      const json = (status: number, b: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(b))
      }
      if (rt.startsWith('err-')) return json(400, { error: 'invalid_grant' })
      if (rt.startsWith('same-')) return json(200, { access_token: 'at', refresh_token: rt })
      if (rt.startsWith('bad-')) return res.writeHead(502).end('<html>bad gateway</html>')
      const [, chain, n] = rt.split('-')
      json(200, { access_token: 'at', refresh_token: `ok-${chain}-${Number(n) + 1}` })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const form = (rt: string) => ({ grant_type: 'refresh_token', refresh_token: rt })

describe('refresh chains load generator', () => {
  it('with a request limit, every chain makes exactly that many rotations, presenting each new token', async () => {
    const client = new HttpClient(url, { maxSockets: 4 })
    const before = served
    const r = await runRefreshChains({
      client,
      path: '/token',
      form,
      tokens: ['ok-a-0', 'ok-b-0', 'ok-c-0', 'ok-d-0'],
      warmupMs: 0,
      durationMs: 60_000,
      maxRequestsPerChain: 5,
    })
    client.close()
    expect(served - before).toBe(20)
    expect(r).toMatchObject({
      requests: 20,
      ok: 20,
      errors: 0,
      totalRequests: 20,
      warmupRequests: 0,
    })
    expect(r.tokens).toEqual(['ok-a-5', 'ok-b-5', 'ok-c-5', 'ok-d-5'])
    // Each chain presented each of its tokens exactly once: it took the new token every time.
    for (const chain of 'abcd') {
      for (let n = 0; n < 5; n++) expect(servedByToken.get(`ok-${chain}-${n}`)).toBe(1)
    }
    expect(r.latency.count).toBe(20)
    expect(r.samples).toHaveLength(20)
    expect(r.sample).toEqual({ access_token: 'at', refresh_token: expect.stringMatching(/^ok-/) })
  })

  it('counts an error response, an unrotated token and a non-JSON body as errors and stops those chains', async () => {
    const client = new HttpClient(url, { maxSockets: 4 })
    const r = await runRefreshChains({
      client,
      path: '/token',
      form,
      tokens: ['ok-e-0', 'err-1', 'same-1', 'bad-1'],
      warmupMs: 0,
      durationMs: 60_000,
      maxRequestsPerChain: 3,
    })
    client.close()
    expect(r.errors).toBe(3)
    expect(r.errorKinds).toEqual({
      'HTTP 400 invalid_grant': 1,
      'refresh token not rotated': 1,
      'HTTP 502 (not JSON)': 1,
    })
    expect(r.ok).toBe(3)
    expect(r.requests).toBe(6)
    expect(r.tokens).toEqual(['ok-e-3', undefined, undefined, undefined])
  })

  it('counts a refused connection as a network error', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const port = (probe.address() as AddressInfo).port
    await new Promise((resolve) => probe.close(resolve))
    const client = new HttpClient(`http://127.0.0.1:${port}`)
    const r = await runRefreshChains({
      client,
      path: '/token',
      form,
      tokens: ['ok-f-0'],
      warmupMs: 0,
      durationMs: 5_000,
    })
    client.close()
    expect(r.errors).toBe(1)
    expect(r.errorKinds).toEqual({ 'network ECONNREFUSED': 1 })
    expect(r.tokens).toEqual([undefined])
  })

  it('by time: measures only requests started after the warm-up, and the server saw every request made', async () => {
    const client = new HttpClient(url, { maxSockets: 8 })
    const before = served
    const tokens = Array.from({ length: 8 }, (_, i) => `ok-t${i}-0`)
    const r = await runRefreshChains({
      client,
      path: '/token',
      form,
      tokens,
      warmupMs: 150,
      durationMs: 300,
    })
    client.close()
    expect(r.errors).toBe(0)
    expect(r.warmupRequests).toBeGreaterThan(0)
    expect(r.requests).toBeGreaterThan(0)
    expect(r.totalRequests).toBe(r.warmupRequests + r.requests)
    expect(served - before).toBe(r.totalRequests)
    expect(r.ok).toBe(r.requests)
    expect(r.latency.count).toBe(r.requests)
    // The window is 300 ms; the last measured request may end a little after it.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(250)
    expect(r.elapsedMs).toBeLessThan(2_000)
    expect(r.requestsPerSecond).toBeCloseTo((r.requests * 1000) / r.elapsedMs, 6)
  })
})

describe('checkRefreshResponse', () => {
  const res = (status: number, body: unknown) => ({
    status,
    headers: {},
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

  it.each([
    [
      'a new refresh token is a success',
      res(200, { access_token: 'a', refresh_token: 'new' }),
      { token: 'new' },
    ],
    [
      'the presented token back is not rotated',
      res(200, { access_token: 'a', refresh_token: 'old' }),
      { error: 'refresh token not rotated' },
    ],
    ['no refresh token', res(200, { access_token: 'a' }), { error: 'no refresh_token' }],
    ['no access token', res(200, { refresh_token: 'new' }), { error: 'no access_token' }],
    [
      'an OAuth error names its code',
      res(400, { error: 'invalid_grant' }),
      { error: 'HTTP 400 invalid_grant' },
    ],
    ['a 5xx without a code', res(503, {}), { error: 'HTTP 503' }],
    ['a body that is not JSON', res(200, 'not json'), { error: 'HTTP 200 (not JSON)' }],
  ])('%s', (_name, r, expected) => {
    expect(checkRefreshResponse(r, 'old')).toMatchObject(expected)
  })
})
