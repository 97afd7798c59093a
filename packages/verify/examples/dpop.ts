import Fastify from 'fastify'
import { createVerifier, type DpopReplayStore } from '@tessera/verify'
import { authenticate } from '@tessera/verify/fastify'

/** The one Redis call a shared replay store needs (node-redis v4+ has this shape). */
interface RedisLike {
  set(key: string, value: string, options: { NX: true; PXAT: number }): Promise<string | null>
}
declare const redis: RedisLike

// Every instance of the API shares the record of accepted proofs, so a proof replayed to
// another instance within its window is refused too.
const replayStore: DpopReplayStore = {
  use: async (key, expiresAt) =>
    (await redis.set(`dpop:${key}`, '1', { NX: true, PXAT: expiresAt })) === 'OK',
}

const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
  dpop: {
    // Behind a TLS-terminating proxy the API sees http://10.0.0.5:3000; clients sign this origin.
    origin: 'https://api.example.com',
    // Only sender-constrained tokens: a stolen access token alone is useless here.
    required: true,
    replayStore,
  },
})

const app = Fastify()
app.addHook('preHandler', authenticate(verifier))
app.get('/orders', (req) => ({ sub: req.auth?.claims.sub, jkt: req.auth?.claims.cnf?.jkt }))
await app.listen({ port: 3000 })
