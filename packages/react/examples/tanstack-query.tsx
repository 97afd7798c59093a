import { useEffect, type ReactNode } from 'react'
import { QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query'
import type { TesseraClient } from '@tessera/client'
import { TesseraProvider, useApi, useAuth } from '@tessera/react'

const queryClient = new QueryClient()

export function Providers({ client, children }: { client: TesseraClient; children: ReactNode }) {
  // Every sign-out (here, in another tab, or forced by the server) drops the cached data of the
  // previous user before anything renders for the next one.
  useEffect(() => client.onSignOut(() => queryClient.clear()), [client])
  return (
    <TesseraProvider client={client}>
      <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
    </TesseraProvider>
  )
}

interface Order {
  id: string
  total: number
}

export function Orders() {
  const { isSignedIn, sessionId } = useAuth()
  const orders = useApi('https://api.example.com')
  const query = useQuery({
    // The session in the key: another user's session never reads this user's cache.
    queryKey: ['orders', sessionId],
    queryFn: async () => {
      const res = await orders.fetch('https://api.example.com/orders')
      if (!res.ok) throw new Error(`orders: ${res.status}`)
      return (await res.json()) as Order[]
    },
    enabled: isSignedIn === true,
  })
  if (query.isPending) return <p>Loading…</p>
  if (query.isError) return <p>Could not load the orders.</p>
  return (
    <ul>
      {query.data.map((o) => (
        <li key={o.id}>{o.total}</li>
      ))}
    </ul>
  )
}
