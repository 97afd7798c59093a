/**
 * Access-token verification throughput, side by side in one run: @tessera/verify (cold, and with
 * its verified-token cache on a workload where each token is presented 100 times), `jose` used
 * directly, and `jsonwebtoken` + `jwks-rsa`, for ES256 and RS256, each as a ratio of the raw
 * node:crypto verify limit measured here on the same signing inputs.
 *
 * Run (after `npm run build`, since it measures the compiled package as users get it):
 *   node --import tsx bench/verify/run.ts
 * Env: BENCH_SECONDS (measured seconds per figure, default 2), BENCH_TOKENS (distinct tokens per
 * algorithm, default 1000).
 *
 * Everything runs in this one process, on one core: the loops are sequential `await`s. The JWKS
 * is served by a local HTTP server, fetched once by each library before measuring.
 */
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createVerifier, type Verifier } from '@tessera/verify'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import jwt from 'jsonwebtoken'
import jwksRsa from 'jwks-rsa'
import { envNumber } from '../lib/env.js'

type Alg = 'ES256' | 'RS256'

const SECONDS = envNumber('BENCH_SECONDS', 2, 0.1, 600)
const TOKENS = envNumber('BENCH_TOKENS', 1000, 1, 1_000_000)
const REPEAT = 100
/** Milliseconds each contender runs before the next takes its turn. */
const WINDOW_MS = 200
const AUDIENCE = 'https://api.bench.test'

interface Key {
  alg: Alg
  kid: string
  privateKey: KeyObject
  publicKey: KeyObject
}

function makeKey(alg: Alg): Key {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { alg, kid: `bench-${alg.toLowerCase()}`, ...pair }
}

const ES_OPTS = { dsaEncoding: 'ieee-p1363' } as const

/** Tokens shaped like Tessera's access tokens (RFC 9068 claims plus sid, auth_time, amr). */
function mintTokens(key: Key, issuer: string, n: number): string[] {
  const header = Buffer.from(
    JSON.stringify({ alg: key.alg, typ: 'at+jwt', kid: key.kid }),
  ).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  const tokens: string[] = []
  for (let i = 0; i < n; i++) {
    const payload = Buffer.from(
      JSON.stringify({
        scope: 'read write',
        client_id: 'web-app',
        sid: `ses_${randomBytes(16).toString('base64url')}`,
        auth_time: now - 60,
        amr: ['pwd'],
        iss: issuer,
        sub: `usr_${randomBytes(16).toString('base64url')}`,
        aud: AUDIENCE,
        iat: now,
        exp: now + 3600,
        jti: randomBytes(16).toString('base64url'),
      }),
    ).toString('base64url')
    const input = Buffer.from(`${header}.${payload}`)
    const sig =
      key.alg === 'ES256'
        ? sign('sha256', input, { key: key.privateKey, ...ES_OPTS })
        : sign('sha256', input, key.privateKey)
    tokens.push(`${header}.${payload}.${sig.toString('base64url')}`)
  }
  return tokens
}

/** One contender: `op` performs one verification on the next token of its own workload. */
interface Contender {
  alg: Alg
  name: string
  workload: string
  op: () => unknown
  ops: number
  cpuUs: number
  wallMs: number
}

/**
 * Runs every contender in turn for WINDOW_MS at a time until each has run SECONDS in total, so a
 * change of load on this shared machine hits them alike. Time is counted twice: wall time, and
 * the process's CPU time (all its threads), which is what "per core" means and what other
 * processes on the machine cannot inflate.
 */
async function measure(contenders: Contender[]): Promise<void> {
  const rounds = Math.max(1, Math.round((SECONDS * 1000) / WINDOW_MS))
  for (const c of contenders) await window(c, 100, false) // warm-up, not counted
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) await window(c, WINDOW_MS, true)
  }
}

// A full collection before each window, so no contender pays for another's garbage.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

async function window(c: Contender, ms: number, count: boolean): Promise<void> {
  gc()
  let n = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  do {
    for (let b = 0; b < 25; b++) {
      const r = c.op()
      if (r instanceof Promise) await r
    }
    n += 25
  } while (performance.now() - t0 < ms)
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (!count) return
  c.ops += n
  c.wallMs += wall
  c.cpuUs += cpu.user + cpu.system
}

/** A cursor that walks a workload forever. */
function cursor(workload: readonly string[]): () => string {
  let i = 0
  return () => workload[i++ % workload.length] as string
}

/** The 100x workload: round-robin over the tokens, 100 rounds, each presentation a fresh string
 * (as a header parsed per request would be), for every library alike. */
function repeatedWorkload(tokens: readonly string[]): string[] {
  const out: string[] = []
  for (let r = 0; r < REPEAT; r++) {
    for (const t of tokens) out.push(Buffer.from(t, 'latin1').toString('latin1'))
  }
  return out
}

async function contendersFor(
  alg: Alg,
  issuer: string,
  jwksUri: string,
  key: Key,
): Promise<Contender[]> {
  const tokens = mintTokens(key, issuer, TOKENS)
  const repeated = repeatedWorkload(tokens)
  const make = (name: string, workload: string, op: () => unknown): Contender => ({
    alg,
    name,
    workload,
    op,
    ops: 0,
    cpuUs: 0,
    wallMs: 0,
  })

  // The limit: node:crypto verify of the same signing inputs, already decoded, one core.
  const inputs = tokens.map((t) => Buffer.from(t.slice(0, t.lastIndexOf('.'))))
  const sigs = tokens.map((t) => Buffer.from(t.slice(t.lastIndexOf('.') + 1), 'base64url'))
  const cryptoKey = alg === 'ES256' ? { key: key.publicKey, ...ES_OPTS } : key.publicKey
  let i = 0
  const raw = make(LIMIT, 'distinct', () => {
    const k = i++ % inputs.length
    if (!verify('sha256', inputs[k] as Buffer, cryptoKey, sigs[k] as Buffer)) throw new Error('bad')
  })

  const tessera = (cache: boolean): Verifier =>
    createVerifier({
      issuer,
      audience: AUDIENCE,
      algorithms: [alg],
      cache: cache ? { maxEntries: 10_000 } : false,
    })
  const cold = tessera(false)
  await cold.verify(tokens[0] as string)
  const nextDistinct = cursor(tokens)
  const tesseraCold = make(COLD, 'distinct', () => cold.verify(nextDistinct()))

  // Each pass over the 100x workload starts with an empty cache (a new verifier, whose one JWKS
  // fetch is counted), so no token is ever presented more than 100 times.
  let cached = tessera(true)
  let j = 0
  const tesseraCached = make(CACHED, `each x${REPEAT}`, () => {
    if (j === repeated.length) {
      j = 0
      cached = tessera(true)
    }
    return cached.verify(repeated[j++] as string)
  })

  const joseJwks = createRemoteJWKSet(new URL(jwksUri))
  const joseOptions = {
    issuer,
    audience: AUDIENCE,
    typ: 'at+jwt',
    algorithms: [alg],
    clockTolerance: 5,
  }
  await jwtVerify(tokens[0] as string, joseJwks, joseOptions)
  const nextJose = cursor(tokens)
  const jose = make(JOSE, 'distinct', () => jwtVerify(nextJose(), joseJwks, joseOptions))

  const client = jwksRsa({ jwksUri, cache: true, rateLimit: true, jwksRequestsPerMinute: 10 })
  const getKey: jwt.GetPublicKeyOrSecret = (header, cb) => {
    client.getSigningKey(header.kid, (err, k) => cb(err, k?.getPublicKey()))
  }
  const legacyVerify = (t: string) =>
    new Promise((resolve, reject) => {
      jwt.verify(t, getKey, { algorithms: [alg], issuer, audience: AUDIENCE }, (err, decoded) =>
        err ? reject(err) : resolve(decoded),
      )
    })
  await legacyVerify(tokens[0] as string)
  const nextLegacy = cursor(repeated)
  const legacy = make(LEGACY, `each x${REPEAT}`, () => legacyVerify(nextLegacy()))

  return [raw, tesseraCold, tesseraCached, jose, legacy]
}

const LIMIT = 'node:crypto verify (the limit)'
const COLD = '@tessera/verify, cold (no cache)'
const CACHED = '@tessera/verify, cached'
const JOSE = 'jose jwtVerify + createRemoteJWKSet'
const LEGACY = 'jsonwebtoken + jwks-rsa'

const fmt = (n: number) => Math.round(n).toLocaleString('en-US')

async function main(): Promise<void> {
  const keys = { ES256: makeKey('ES256'), RS256: makeKey('RS256') }
  let base = ''
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json')
    if (req.url === '/.well-known/openid-configuration') {
      return res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }))
    }
    if (req.url === '/jwks') {
      const list = Object.values(keys).map((k) => ({
        ...k.publicKey.export({ format: 'jwk' }),
        kid: k.kid,
        alg: k.alg,
        use: 'sig',
      }))
      return res.end(JSON.stringify({ keys: list }))
    }
    res.statusCode = 404
    res.end('{}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  console.log(
    `@tessera/verify bench: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x${cpus().length}, ` +
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}, ${SECONDS} s per figure, ${TOKENS} tokens per algorithm`,
  )
  const all: Contender[] = []
  for (const alg of ['ES256', 'RS256'] as const) {
    const contenders = await contendersFor(alg, base, `${base}/jwks`, keys[alg])
    await measure(contenders)
    all.push(...contenders)
  }
  server.close()

  const perCpu = (c: Contender) => c.ops / (c.cpuUs / 1e6)
  const perWall = (c: Contender) => c.ops / (c.wallMs / 1e3)
  const find = (alg: Alg, name: string) => all.find((c) => c.alg === alg && c.name === name)!
  console.log(
    '\n| alg | library | workload | verifications per CPU-second | x crypto limit | per wall-second | x crypto limit (wall) |',
  )
  console.log('|---|---|---|---:|---:|---:|---:|')
  for (const c of all) {
    const limit = find(c.alg, LIMIT)
    console.log(
      `| ${c.alg} | ${c.name} | ${c.workload} | ${fmt(perCpu(c))} | ${(perCpu(c) / perCpu(limit)).toFixed(2)} | ${fmt(perWall(c))} | ${(perWall(c) / perWall(limit)).toFixed(2)} |`,
    )
  }

  console.log('\nGoals (per CPU-second, i.e. per core)')
  let misses = 0
  for (const alg of ['ES256', 'RS256'] as const) {
    const limit = perCpu(find(alg, LIMIT))
    const cold = perCpu(find(alg, COLD))
    const cached = perCpu(find(alg, CACHED))
    const legacy = perCpu(find(alg, LEGACY))
    const goals: [string, number, number][] = [
      ['cold path >= 0.90 x crypto limit', cold / limit, 0.9],
      ['cached (each token x100) >= 5 x crypto limit', cached / limit, 5],
      ['cached >= 6 x jsonwebtoken + jwks-rsa (same workload)', cached / legacy, 6],
    ]
    for (const [what, got, want] of goals) {
      const pass = got >= want
      if (!pass) misses++
      console.log(`  ${pass ? 'PASS' : 'MISS'} ${alg} ${what}: ${got.toFixed(2)}`)
    }
  }
  console.log(misses === 0 ? '\nall goals met' : `\n${misses} goal(s) missed`)
}

await main()
