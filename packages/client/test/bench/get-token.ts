/**
 * Figures for the client (not a test; tests never assert on speed):
 *   npx tsx packages/client/test/bench/get-token.ts
 * 1. cached `getToken` calls per second;
 * 2. a storm of 1,000 concurrent `getToken` calls on an expired token, and how many refresh
 *    requests reached the server (must be 1), read from the server's store as well.
 */
import { decodeJwt } from 'jose'
import {
  API_A,
  clientFor,
  signIn,
  startTessera,
  storedSession,
  sessionIdOf,
} from '../helpers/tessera.js'
import { ShiftedClock } from '../helpers/clocks.js'

const s = await startTessera()
try {
  const clock = new ShiftedClock()
  const { client, counting, storage } = clientFor(s, { clock, autoRefresh: false })
  await signIn(s, client)
  await client.getToken({ audience: API_A })

  const durationMs = 2000
  let calls = 0
  const start = performance.now()
  while (performance.now() - start < durationMs) {
    for (let i = 0; i < 1000; i++) await client.getToken({ audience: API_A })
    calls += 1000
  }
  const elapsed = (performance.now() - start) / 1000
  console.log(
    `cached getToken: ${Math.round(calls / elapsed).toLocaleString('en')} calls/s (${calls} calls in ${elapsed.toFixed(2)} s)`,
  )

  const rt = (await storedSession(storage)).refreshToken as string
  const before = (await s.t.store.getSession(sessionIdOf(rt)))!.generation
  clock.offset = 16 * 60_000
  s.t.clock.advance(16 * 60_000)
  const n = counting.refreshes().length
  const t0 = performance.now()
  const tokens = await Promise.all(
    Array.from({ length: 1000 }, () => client.getToken({ audience: API_A })),
  )
  const ms = performance.now() - t0
  const after = (await s.t.store.getSession(sessionIdOf(rt)))!.generation
  console.log(
    `storm: 1,000 concurrent getToken on an expired token -> ${counting.refreshes().length - n} refresh request(s), ` +
      `${after - before} rotation(s) at the server, ${new Set(tokens).size} distinct token(s) ` +
      `(aud ${String(decodeJwt(tokens[0]!).aud)}), ${ms.toFixed(1)} ms`,
  )
  client.dispose()
} finally {
  await s.close()
}
