import express from 'express'
import { createVerifier } from '@tessera/verify'
import { authenticate, requireScope } from '@tessera/verify/express'

const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
})
const app = express()
app.use('/api', authenticate(verifier))
app.get('/api/me', (req, res) => void res.json({ sub: req.auth?.claims.sub }))
app.get('/api/orders', requireScope('orders:read'), (_req, res) => void res.json({ orders: [] }))
app.listen(3000)
