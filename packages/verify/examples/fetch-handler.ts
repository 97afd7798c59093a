import { createVerifier, withAuth } from '@tessera/verify'

// Bun, Deno, Cloudflare Workers (nodejs_compat), Next.js route handlers, @hono/node-server.
const verifier = createVerifier({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
})

const orders = withAuth(verifier, (_request, auth) => Response.json({ sub: auth.claims.sub }), {
  scopes: ['orders:read'],
})

export default { fetch: orders }
