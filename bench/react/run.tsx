/**
 * Figures for @tessera/react (printed; no test asserts on speed):
 *
 * 1. re-renders: 1,000 mounted components reading `useAuth()` (React DOM on a happy-dom document),
 *    through sign-in, refreshes and sign-out: how many times they render per session change, and
 *    for comparison what a bare `useSyncExternalStore(client.subscribe, client.getSnapshot)`
 *    binding renders for the same changes;
 * 2. `getToken` through the hook against the core's cached `getToken` (sequential, awaited, the
 *    token fresh), alternating rounds, and whether the hook stays within 10% of the core.
 *
 *   npm run bench                         # builds, then runs every benchmark, this one last
 *   node --import tsx bench/react/run.tsx  # after `npm run build`
 *   Env: BENCH_REACT_COMPONENTS (default 1000), BENCH_REACT_SECONDS (per getToken round,
 *   default 1), BENCH_REACT_ROUNDS (rounds of each, default 5), BENCH_REACT_REFRESHES (default 5).
 *
 * The bindings and the client are the compiled packages (dist), React 19 in its production
 * build. The server is a real Tessera (the bench's Tessera target) in its own process; the user
 * signs in through the hosted form over HTTP. The exit code is 1 when the 1,000 components did
 * not render exactly once each per session change, or rendered on a refresh.
 */
process.env.NODE_ENV = 'production'
import { cpus, loadavg } from 'node:os'
import { Window } from 'happy-dom'
import { createTesseraClient, memoryStorage, type TesseraClient } from '@tessera/client'
import { Browser, formFields, redirectOf } from '../lib/browser.js'
import { staleBuild } from '../lib/build-check.js'
import {
  ACCESS_TOKEN_TTL_SECONDS,
  API_AUDIENCE,
  API_SCOPE,
  CLIENT_ID,
  REDIRECT_URI,
} from '../lib/constants.js'
import { envNumber } from '../lib/env.js'
import { startTessera } from '../targets/tessera.js'
import { ShiftedClock } from '../../packages/client/test/helpers/clocks.js'

const COMPONENTS = envNumber('BENCH_REACT_COMPONENTS', 1000, 1, 100_000)
const SECONDS = envNumber('BENCH_REACT_SECONDS', 1, 0.2, 600)
const ROUNDS = envNumber('BENCH_REACT_ROUNDS', 5, 1, 100)
const REFRESHES = envNumber('BENCH_REACT_REFRESHES', 5, 1, 100)

const log = (s = '') => process.stdout.write(s + '\n')

for (const pkg of ['client', 'react']) {
  const stale = staleBuild(pkg)
  if (stale.length > 0) {
    throw new Error(
      `packages/${pkg}/dist is older than ${stale.slice(0, 3).join(', ')}: run \`npm run build\` (npm run bench does)`,
    )
  }
}

// React DOM decides whether it can use the DOM when it is first imported: the document first.
const window = new Window({ url: 'https://app.bench.test/' })
Object.assign(globalThis, { window, document: window.document })
const { createElement, useSyncExternalStore } = await import('react')
const { flushSync } = await import('react-dom')
const { createRoot } = await import('react-dom/client')
const { TesseraProvider, useAuth } = await import('@tessera/react')

async function signIn(client: TesseraClient, url: string, username: string, password: string) {
  const browser = new Browser(url)
  try {
    const authorize = await client.signIn()
    const login = redirectOf(await browser.get(authorize.href), 'authorization request')
    const page = await browser.get(login)
    if (page.status !== 200) throw new Error(`sign-in page: HTTP ${page.status}`)
    const back = redirectOf(
      await browser.post(login, { ...formFields(page.body), username, password }),
      'sign-in',
    )
    await client.handleRedirectCallback(back)
  } finally {
    browser.close()
  }
}

/** Lets React commit what the client's changes scheduled. */
const settle = () => new Promise((r) => setTimeout(r, 20))

log('@tessera/react benchmark')
log(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, Node ${process.version}`,
)
log('The machine may be shared: read the timing figures as orders of magnitude.')
log()

const target = await startTessera()
let failed = false
try {
  const [user] = await target.process.call<{ username: string; password: string }[]>('users', {
    count: 1,
  })
  const clock = new ShiftedClock()
  const client = createTesseraClient({
    issuer: target.url,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT_URI,
    scope: 'openid offline_access',
    apis: [{ baseUrl: API_AUDIENCE, audience: API_AUDIENCE, scope: API_SCOPE }],
    storage: memoryStorage(),
    clock,
    autoRefresh: false,
  })
  await client.whenLoaded()

  // 1. Re-renders.
  let hookRenders = 0
  let bareRenders = 0
  let hook: ReturnType<typeof useAuth> | undefined
  function WithHook() {
    hook = useAuth()
    hookRenders++
    return createElement('span', null, hook.isSignedIn ? 'in' : 'out')
  }
  function Bare() {
    const s = useSyncExternalStore(client.subscribe, client.getSnapshot)
    bareRenders++
    return createElement('span', null, s.isSignedIn ? 'in' : 'out')
  }
  const hookRoot = createRoot(window.document.createElement('div') as unknown as Element)
  const bareRoot = createRoot(window.document.createElement('div') as unknown as Element)
  const list = (C: () => unknown) =>
    Array.from({ length: COMPONENTS }, (_, i) => createElement(C as () => null, { key: i }))
  flushSync(() => {
    hookRoot.render(createElement(TesseraProvider, { client }, list(WithHook)))
    bareRoot.render(createElement('div', null, list(Bare)))
  })
  await settle()
  let changes = 0
  const stop = client.subscribe(() => changes++)
  const rows: { step: string; changes: number; hook: number; bare: number; expected: number }[] = []
  async function step(name: string, expected: number, run: () => Promise<unknown>) {
    const before = { changes, hook: hookRenders, bare: bareRenders }
    await run()
    await settle()
    const row = {
      step: name,
      changes: changes - before.changes,
      hook: (hookRenders - before.hook) / COMPONENTS,
      bare: (bareRenders - before.bare) / COMPONENTS,
      expected,
    }
    rows.push(row)
    if (row.hook !== expected) failed = true
  }
  await step('sign-in (hosted form, code exchange)', 1, () =>
    signIn(client, target.url, user!.username, user!.password),
  )
  await client.getToken({ audience: API_AUDIENCE })
  await settle()
  await step(`${REFRESHES} refreshes (expired token, new ID token each)`, 0, async () => {
    for (let i = 0; i < REFRESHES; i++) {
      clock.offset += (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000
      await client.getToken({ audience: API_AUDIENCE })
      await settle()
    }
  })
  await step('sign-out', 1, () => client.signOut())
  await step('sign-in again', 1, () => signIn(client, target.url, user!.username, user!.password))
  stop()
  log(`re-renders of ${COMPONENTS.toLocaleString('en')} mounted components, per component:`)
  for (const r of rows) {
    log(
      `  ${r.step}: ${r.changes} snapshot change(s) -> useAuth() ${r.hook} render(s) each ` +
        `(${(r.hook * COMPONENTS).toLocaleString('en')} in all; expected ${r.expected}), ` +
        `bare useSyncExternalStore ${r.bare} each`,
    )
  }
  log()

  // 2. getToken through the hook vs the core, cached.
  await client.getToken({ audience: API_AUDIENCE })
  const viaHook = hook!.getToken
  const opts = { audience: API_AUDIENCE }
  async function rate(get: (o: typeof opts) => Promise<string>): Promise<number> {
    let calls = 0
    const start = performance.now()
    while (performance.now() - start < SECONDS * 1000) {
      for (let i = 0; i < 1000; i++) await get(opts)
      calls += 1000
    }
    return calls / ((performance.now() - start) / 1000)
  }
  await rate((o) => client.getToken(o)) // warm-up
  const core: number[] = []
  const hooked: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    core.push(await rate((o) => client.getToken(o)))
    hooked.push(await rate(viaHook))
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const c = median(core)
  const h = median(hooked)
  const ratio = h / c
  const fmt = (n: number) => Math.round(n).toLocaleString('en')
  log(
    `cached getToken, sequential awaited, median of ${ROUNDS} alternating rounds of ${SECONDS} s:`,
  )
  log(`  core client.getToken:     ${fmt(c)} calls/s`)
  log(`  useAuth().getToken:       ${fmt(h)} calls/s`)
  log(
    `  hook / core: ${(ratio * 100).toFixed(1)}% -> ${ratio >= 0.9 ? 'within' : 'NOT within'} 10% of the core`,
  )
  hookRoot.unmount()
  bareRoot.unmount()
  client.dispose()
} finally {
  await target.stop()
  await window.happyDOM.abort()
  window.close()
}
if (failed) {
  log('FAILED: the useAuth() components did not render exactly once per session change')
  process.exitCode = 1
}
