/**
 * `attachAxios` with real axios (pinned 1.21.1, its Node http adapter) on the client core, against
 * a real Tessera server and a real API that verifies tokens against Tessera's JWKS: the token is
 * attached by URL (and only for configured APIs), a 401 `invalid_token` makes one refresh and one
 * replay, many concurrent 401s share one refresh, and a second 401 is returned without a loop.
 * The instance is passed as axios types it: the structural types of `attachAxios` accept it.
 */
import axios, { AxiosError } from 'axios'
import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { attachAxios } from '../../src/index.js'
import { ApiServer } from '../helpers/api-server.js'
import { clientFor, signIn, startTessera, type Tessera } from '../helpers/tessera.js'

let s: Tessera
/** An API the client is not configured for: it must never see a token. */
let stranger: ApiServer

beforeAll(async () => {
  s = await startTessera()
  stranger = new ApiServer()
  await stranger.start(
    () => s.t.url,
    () => s.t.clock.now(),
  )
})
afterAll(async () => {
  await stranger.close()
  await s.close()
})

async function setup() {
  const { client, counting } = clientFor(s)
  await signIn(s, client)
  const api = axios.create({ baseURL: s.api.url })
  const detach = attachAxios(client, api)
  return { client, counting, api, detach }
}

const bearer = (authorization: string | undefined) => /^Bearer (.+)$/.exec(authorization ?? '')?.[1]

describe('attachAxios with axios 1.21.1 against Tessera', () => {
  it('attaches the token of the URL’s API (relative to baseURL or absolute), and nothing to other URLs', async () => {
    const { client, api, detach } = await setup()
    const res = await api.post<{ sub: string; aud: string; echo: string }>('/orders', 'hello', {
      headers: { 'content-type': 'text/plain' },
    })
    expect(res.status).toBe(200)
    expect(res.data).toMatchObject({ sub: s.alice.id, aud: s.api.url, echo: 'hello' })
    const sent = bearer(s.api.requests.at(-1)?.authorization)
    expect(decodeJwt(sent!).aud).toBe(s.api.url)
    expect(sent).toBe(await client.getToken({ audience: s.api.url }))

    const abs = await api.get(s.api.url + '/orders/7')
    expect(abs.status).toBe(200)

    const seen = stranger.requests.length
    const other = await api.get(stranger.url + '/public', { validateStatus: () => true })
    expect(other.status).toBe(401)
    expect(stranger.requests.length).toBe(seen + 1)
    expect(stranger.requests.at(-1)?.authorization).toBeUndefined()

    // Detached: no token any more.
    detach()
    const bare = await api.get('/orders', { validateStatus: () => true })
    expect(bare.status).toBe(401)
    expect(s.api.requests.at(-1)?.authorization).toBeUndefined()
    client.dispose()
  })

  it('SDK-01 a 401 invalid_token refreshes once and replays the request once with the new token', async () => {
    const { client, counting, api } = await setup()
    const token = await client.getToken({ audience: s.api.url })
    s.api.rejected.add(token)
    const n = counting.refreshes().length
    const seen = s.api.requests.length
    const res = await api.post<{ echo: string }>('/orders', 'again', {
      headers: { 'content-type': 'text/plain' },
    })
    expect(res.status).toBe(200)
    expect(res.data.echo).toBe('again')
    expect(counting.refreshes().length - n).toBe(1)
    const [first, replay] = s.api.requests.slice(seen)
    expect(s.api.requests.length - seen).toBe(2)
    expect(bearer(first?.authorization)).toBe(token)
    const fresh = bearer(replay?.authorization)
    expect(fresh).not.toBe(token)
    expect(fresh).toBe(await client.getToken({ audience: s.api.url }))
    expect(replay?.body).toBe('again')
    client.dispose()
  })

  it('SDK-01 20 concurrent requests that all get 401 share one refresh; each is replayed once', async () => {
    const { client, counting, api } = await setup()
    s.api.rejected.add(await client.getToken({ audience: s.api.url }))
    const n = counting.refreshes().length
    const seen = s.api.requests.length
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.post<{ echo: string }>('/orders', `r${i}`, {
          headers: { 'content-type': 'text/plain' },
        }),
      ),
    )
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200))
    expect(results.map((r) => r.data.echo)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`))
    expect(counting.refreshes().length - n).toBe(1)
    expect(s.api.requests.length - seen).toBe(40)
    client.dispose()
  })

  it('a second 401 is returned as the axios error: one refresh, one replay, no loop', async () => {
    const { client, counting, api } = await setup()
    await client.getToken({ audience: s.api.url })
    s.api.rejectAll = true
    try {
      const n = counting.refreshes().length
      const seen = s.api.requests.length
      const err: unknown = await api.get('/orders').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(AxiosError)
      const ae = err as AxiosError
      expect(ae.response?.status).toBe(401)
      expect(ae.response?.headers['www-authenticate']).toContain('invalid_token')
      expect(s.api.requests.length - seen).toBe(2)
      expect(counting.refreshes().length - n).toBe(1)
    } finally {
      s.api.rejectAll = false
    }
    client.dispose()
  })

  it('a 401 that does not say invalid_token is not retried', async () => {
    const { client, counting, api } = await setup()
    await client.getToken({ audience: s.api.url })
    s.api.rejectAll = true
    s.api.rejectAllWith = 'invalid_request'
    try {
      const n = counting.refreshes().length
      const seen = s.api.requests.length
      const err: unknown = await api.get('/orders').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((err as AxiosError).response?.status).toBe(401)
      expect(s.api.requests.length - seen).toBe(1)
      expect(counting.refreshes().length).toBe(n)
    } finally {
      s.api.rejectAll = false
      s.api.rejectAllWith = 'invalid_token'
    }
    client.dispose()
  })
})
