import Fastify from 'fastify'
import { createVerifier } from '@tessera/verify'
import { authenticate } from '@tessera/verify/fastify'

const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
})
const app = Fastify()
app.get('/orders', { preHandler: authenticate(verifier) }, () => ({ orders: [] }))
// A sensitive route: a sign-in of the last 5 minutes, with a second factor.
app.post(
  '/payouts',
  { preHandler: authenticate(verifier, { acrValues: ['urn:tessera:acr:mfa'], maxAge: 300 }) },
  (req) => ({ by: req.auth?.claims.sub, signedInAt: req.auth?.claims.auth_time }),
)
await app.listen({ port: 3000 })
