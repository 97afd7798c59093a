/**
 * `npm start` (at the repository root) runs this next to Tessera's dev server: the shell on
 * http://localhost:5170 and the orders, billing and analytics micro frontends on 5171 to 5173.
 * The dev server's demo data registers the shell client, the three APIs and these origins.
 */
import { DEMO_DEFAULTS } from './defaults.js'
import { startDemo } from './server.js'

const demo = await startDemo({
  ...DEMO_DEFAULTS,
  issuer: process.env.TESSERA_ISSUER ?? DEMO_DEFAULTS.issuer,
})
console.log(
  [
    '# Micro-frontend demo (examples/web): one sign-in in the shell, three frames on their own origins',
    `demo: ${demo.config.shell}/`,
    ...demo.config.frames.map((f) => `frame: ${f.origin} (${f.name}, audience ${f.audience})`),
  ].join('\n'),
)
const stop = () => void demo.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
