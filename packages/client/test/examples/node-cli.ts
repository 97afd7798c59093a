/**
 * The smallest Node program (README "Node"): a native client that signs in through the system
 * browser with a loopback redirect (RFC 8252), then calls an API. Type-checked with the tests.
 */
import { createServer } from 'node:http'
import { createTesseraClient, memoryStorage } from '../../src/index.js'

export async function main(): Promise<void> {
  const port = 8765
  const client = createTesseraClient({
    issuer: 'https://auth.example.com',
    clientId: 'native-app',
    redirectUri: `http://127.0.0.1:${port}/cb`,
    apis: [{ baseUrl: 'https://api.example.com', audience: 'https://api.example.com' }],
    storage: memoryStorage(),
  })
  // Receive the redirect back on loopback.
  const callback = new Promise<string>((resolve) => {
    const server = createServer((req, res) => {
      res.end('Signed in. You can close this tab.')
      server.close()
      resolve(`http://127.0.0.1:${port}${req.url}`)
    }).listen(port, '127.0.0.1')
  })
  const url = await client.signIn()
  console.log(`Open ${url.href}`)
  await client.handleRedirectCallback(await callback)
  const res = await client.fetch('https://api.example.com/orders')
  console.log(res.status, await res.text())
  await client.signOut()
}
