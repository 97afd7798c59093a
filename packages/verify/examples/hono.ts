import { Hono } from 'hono'
import { createVerifier } from '@tessera/verify'
import { authenticate, requireScope, type AuthEnv } from '@tessera/verify/hono'

const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
})
const app = new Hono<AuthEnv>()
app.use('/api/*', authenticate(verifier))
app.get('/api/me', (c) => c.json({ sub: c.var.auth.claims.sub }))
app.get('/api/orders', requireScope('orders:read'), (c) => c.json({ orders: [] }))
export default app
