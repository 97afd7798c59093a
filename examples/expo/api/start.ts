/**
 * `npm run api -w @tessera/example-expo`: the two demo APIs for the app, against `tessera dev`
 * on http://localhost:4000 (or `TESSERA_ISSUER`), on port 5180 (`API_PORT`) of 127.0.0.1
 * (`API_HOST=0.0.0.0` for a phone on the LAN).
 */
import { AUDIENCES, startApiServer } from './server.js'

const api = await startApiServer({
  issuer: process.env.TESSERA_ISSUER ?? 'http://localhost:4000',
  port: Number(process.env.API_PORT ?? 5180),
  host: process.env.API_HOST ?? '127.0.0.1',
})
console.log(`api: ${api.url}`)
for (const [name, audience] of Object.entries(AUDIENCES)) {
  console.log(`${name}: ${api.url}/${name}/summary (audience ${audience})`)
}
const stop = () => void api.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
