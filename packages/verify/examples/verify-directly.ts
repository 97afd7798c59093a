import { createVerifier, isVerifyError } from '@tessera/verify'

// Typed extra claims, a required role, and introspection for an endpoint that must see
// revocations at once.
const verifier = createVerifier<{ roles: string[] }>({
  issuer: 'https://auth.example.com',
  audience: 'https://api.example.com',
  claims: { roles: (r) => Array.isArray(r) && r.includes('admin') },
  introspection: { clientId: 'orders-api', clientSecret: process.env.ORDERS_API_SECRET ?? '' },
})

export async function rolesOf(token: string): Promise<string[] | 'refresh' | 'deny'> {
  try {
    return (await verifier.verify(token)).claims.roles
  } catch (err) {
    if (!isVerifyError(err)) throw err
    switch (err.code) {
      case 'expired':
        return 'refresh'
      case 'claim_invalid':
        console.warn(`token refused: ${err.claim}`)
        return 'deny'
      default:
        return 'deny'
    }
  }
}
