import Fastify from 'fastify'
import { createVerifier } from '@tessera/verify'
import { authenticate, requireScope } from '@tessera/verify/fastify'

const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
})
const app = Fastify()
app.addHook('preHandler', authenticate(verifier))
app.get('/me', (req) => ({ sub: req.auth?.claims.sub }))
app.get('/orders', { preHandler: requireScope('orders:read') }, () => ({ orders: [] }))
await app.listen({ port: 3000 })
