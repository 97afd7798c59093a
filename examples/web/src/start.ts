/**
 * The root `npm start`: Tessera's dev server (its demo data registers this demo's shell client,
 * APIs and origins) and the micro-frontend demo next to it, with where to open each. With
 * `TESSERA_ISSUER` set, only the demo starts, against that issuer.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DEMO_DEFAULTS } from './defaults.js'
import { startDemo } from './server.js'

const external = process.env.TESSERA_ISSUER
const args = process.argv.slice(2)
const portArg = args.findIndex((a) => a === '--port' || a === '-p')
const devPort = portArg >= 0 ? Number(args[portArg + 1]) : 4000
if (!external && !(Number.isInteger(devPort) && devPort > 0))
  throw new Error('--port must be a fixed port here: the demo must know the issuer')
let dev: ChildProcess | undefined
if (!external) {
  const bin = fileURLToPath(
    new URL('../../../packages/server/dist/bin/tessera.js', import.meta.url),
  )
  dev = spawn(process.execPath, [bin, 'dev', ...args], { stdio: 'inherit' })
  dev.once('exit', (code) => process.exit(code ?? 1))
}

const demo = await startDemo({
  ...DEMO_DEFAULTS,
  issuer: external ?? `http://localhost:${devPort}`,
})
console.log(
  [
    '',
    '# Micro-frontend demo (examples/web): sign in once in the shell, three frames on their own origins',
    `demo: ${demo.config.shell}/  (open it; sign in with the dev server's username and password)`,
    ...demo.config.frames.map((f) => `frame: ${f.origin} (${f.name}, audience ${f.audience})`),
  ].join('\n'),
)

const stop = () => {
  dev?.kill('SIGTERM')
  void demo.close().then(() => process.exit(0))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
