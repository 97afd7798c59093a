import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { connect, type Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MonotonicClock } from '../../src/lib/clock.js'
import { cryptoRandom } from '../../src/lib/random.js'
import { sha256b64u } from '../../src/lib/crypto.js'
import { PostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store.js'
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite-store.js'
import type { CodeRedemption, RotateResult, Store } from '../../src/store/store.js'
import type {
  AuthorizationCodeRecord,
  ClientRecord,
  SessionRecord,
  UserRecord,
} from '../../src/store/types.js'
import { createUser } from '../../src/users/create-user.js'
import { createTestSchema, type TestSchema } from '../helpers/postgres.js'
import type { FixtureOptions } from './fixtures/server.js'
import { jsonOrText } from '../helpers/grants.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const PACKAGE_DIR = join(HERE, '..', '..')
export const SERVER_FIXTURE = join(HERE, 'fixtures', 'server.ts')
export const LOCK_FIXTURE = join(HERE, 'fixtures', 'hold-write-lock.ts')

// --- requests -------------------------------------------------------------------------------------

export interface RawResponse {
  status: number
  headers: Record<string, string>
  /** Parsed JSON, or the text when the body is not JSON. */
  body: any
}

export const refreshForm = (
  refreshToken: string,
  clientId = 'web-app',
): Record<string, string> => ({
  grant_type: 'refresh_token',
  refresh_token: refreshToken,
  client_id: clientId,
})

export const formBody = (form: Record<string, string>): string =>
  new URLSearchParams(form).toString()

/** The generation a refresh token `tsr_<session id>.<generation>.<mac>` carries. */
export function generationOf(token: string): number {
  const m = /^tsr_[A-Za-z0-9_-]{22}\.(\d+)\.[A-Za-z0-9_-]{43}$/.exec(token)
  if (!m) throw new Error('not a refresh token')
  return Number(m[1])
}

export function sessionIdOf(token: string): string {
  const m = /^tsr_([A-Za-z0-9_-]{22})\./.exec(token)
  if (!m) throw new Error('not a refresh token')
  return m[1]!
}

/**
 * POSTs every body to `url` at once, behind a last-byte barrier: each request gets its own
 * connection and sends its headers and all but the last byte of its body; once every connection
 * has done so, the last bytes go out in one loop. The server cannot run a handler before its body
 * is complete, so all handlers start together instead of in connection order. Every request must
 * be answered within `timeoutMs` (a deadlock fails the test instead of hanging it).
 */
export async function barrierPost(
  url: string,
  bodies: string[],
  timeoutMs = 20_000,
): Promise<RawResponse[]> {
  const u = new URL(url)
  const pending = await Promise.all(bodies.map((b) => openRequest(u, b, timeoutMs)))
  // Let the server read every request head before the bodies complete.
  await new Promise((r) => setTimeout(r, 50))
  for (const p of pending) p.socket.write(p.lastByte)
  return Promise.all(pending.map((p) => p.response))
}

interface PendingRequest {
  socket: Socket
  lastByte: Buffer
  response: Promise<RawResponse>
}

function openRequest(u: URL, body: string, timeoutMs: number): Promise<PendingRequest> {
  const buf = Buffer.from(body, 'utf8')
  if (buf.length < 1) throw new Error('barrierPost needs a non-empty body')
  const head =
    `POST ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
    `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${buf.length}\r\n` +
    `Connection: close\r\n\r\n`
  return new Promise((resolveOpen, rejectOpen) => {
    const socket = connect(Number(u.port), u.hostname)
    const chunks: Buffer[] = []
    const response = new Promise<RawResponse>((resolve, reject) => {
      socket.setTimeout(timeoutMs, () => {
        socket.destroy(new Error(`no answer within ${timeoutMs} ms`))
      })
      socket.on('data', (d: Buffer) => chunks.push(d))
      socket.on('error', reject)
      socket.on('end', () => {
        try {
          resolve(parseResponse(Buffer.concat(chunks)))
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
    })
    // Marks the promise handled until the caller awaits it after the barrier.
    response.catch(() => undefined)
    socket.once('error', rejectOpen)
    socket.once('connect', () => {
      socket.write(Buffer.concat([Buffer.from(head), buf.subarray(0, buf.length - 1)]), (err) => {
        if (err) rejectOpen(err)
        else resolveOpen({ socket, lastByte: buf.subarray(buf.length - 1), response })
      })
    })
  })
}

function parseResponse(raw: Buffer): RawResponse {
  const split = raw.indexOf('\r\n\r\n')
  if (split < 0) throw new Error('connection closed without a complete response')
  const lines = raw.subarray(0, split).toString('latin1').split('\r\n')
  const status = Number(lines[0]?.split(' ')[1])
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim()
  }
  let payload = raw.subarray(split + 4)
  if (headers['transfer-encoding'] === 'chunked') payload = unchunk(payload)
  return { status, headers, body: jsonOrText(payload.toString('utf8')) }
}

function unchunk(b: Buffer): Buffer {
  const out: Buffer[] = []
  let i = 0
  for (;;) {
    const eol = b.indexOf('\r\n', i)
    const size = parseInt(b.subarray(i, eol).toString('latin1'), 16)
    if (!size) break
    out.push(b.subarray(eol + 2, eol + 2 + size))
    i = eol + 2 + size + 2
  }
  return Buffer.concat(out)
}

// --- a store that interleaves like a networked database ------------------------------------------

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r))

/**
 * better-sqlite3 answers synchronously, so every `await` on the token path resolves as a microtask
 * and one request reaches its compare-and-set before the next request is even read: concurrent
 * refreshes never actually contend. This SqliteStore yields to the event loop before every call on
 * the token path, so concurrent handlers interleave at each store call as they do against a
 * networked database (PostgreSQL). It also counts compare-and-set outcomes, so a race test can
 * prove that contention happened.
 */
export class InterleavingSqliteStore extends SqliteStore {
  readonly cas = { rotateWon: 0, rotateLost: 0, graceWon: 0, graceLost: 0 }

  override async getClient(id: string): Promise<ClientRecord | undefined> {
    await yieldToLoop()
    return super.getClient(id)
  }
  override async getUser(id: string): Promise<UserRecord | undefined> {
    await yieldToLoop()
    return super.getUser(id)
  }
  override async getCode(codeHash: string): Promise<AuthorizationCodeRecord | undefined> {
    await yieldToLoop()
    return super.getCode(codeHash)
  }
  override async redeemCode(
    codeHash: string,
    now: number,
    session: SessionRecord,
  ): Promise<CodeRedemption> {
    await yieldToLoop()
    return super.redeemCode(codeHash, now, session)
  }
  override async getSession(id: string): Promise<SessionRecord | undefined> {
    await yieldToLoop()
    return super.getSession(id)
  }
  override async rotateRefresh(id: string, expected: number, now: number): Promise<RotateResult> {
    await yieldToLoop()
    const r = await super.rotateRefresh(id, expected, now)
    if (r.ok) this.cas.rotateWon++
    else this.cas.rotateLost++
    return r
  }
  override async useGrace(id: string, gen: number, max: number, now: number): Promise<boolean> {
    await yieldToLoop()
    const ok = await super.useGrace(id, gen, max, now)
    if (ok) this.cas.graceWon++
    else this.cas.graceLost++
    return ok
  }
  override async endSession(...args: Parameters<SqliteStore['endSession']>): Promise<boolean> {
    await yieldToLoop()
    return super.endSession(...args)
  }
  override async throttleCount(key: string, now: number, windowSeconds: number): Promise<number> {
    await yieldToLoop()
    return super.throttleCount(key, now, windowSeconds)
  }
}

// --- the stores the reliability tests run on --------------------------------------------------------

/**
 * SqliteStore as the server uses it, counting its compare-and-set outcomes and nothing else: no
 * yielding, no reordering. A rotation that lost proves that several requests read the same
 * generation before one of them committed (concurrent handlers meet in the group commit).
 */
export class CountingSqliteStore extends SqliteStore {
  readonly cas = { rotateWon: 0, rotateLost: 0, graceWon: 0, graceLost: 0 }

  override async rotateRefresh(id: string, expected: number, now: number): Promise<RotateResult> {
    const r = await super.rotateRefresh(id, expected, now)
    if (r.ok) this.cas.rotateWon++
    else this.cas.rotateLost++
    return r
  }
  override async useGrace(id: string, gen: number, max: number, now: number): Promise<boolean> {
    const ok = await super.useGrace(id, gen, max, now)
    if (ok) this.cas.graceWon++
    else this.cas.graceLost++
    return ok
  }
}

/** Compare-and-set outcomes, counted by the instrumented stores to prove that requests contended. */
export interface CasCounts {
  rotateWon: number
  rotateLost: number
  graceWon: number
  graceLost: number
}

/**
 * PostgresStore counting its compare-and-set outcomes. Nothing is slowed down or reordered: on a
 * networked database concurrent requests interleave at every query by themselves.
 */
export class CountingPostgresStore extends PostgresStore {
  readonly cas: CasCounts = { rotateWon: 0, rotateLost: 0, graceWon: 0, graceLost: 0 }

  override async rotateRefresh(id: string, expected: number, now: number): Promise<RotateResult> {
    const r = await super.rotateRefresh(id, expected, now)
    if (r.ok) this.cas.rotateWon++
    else this.cas.rotateLost++
    return r
  }
  override async useGrace(id: string, gen: number, max: number, now: number): Promise<boolean> {
    const ok = await super.useGrace(id, gen, max, now)
    if (ok) this.cas.graceWon++
    else this.cas.graceLost++
    return ok
  }
}

export type StoreKind = 'sqlite' | 'postgres'

export interface KindStore<S extends Store = Store> {
  store: S
  /** The PostgreSQL schema the store works in (postgres only). */
  schema: TestSchema | undefined
  /** Removes what the store was opened on (the schema); the server closes the store itself. */
  cleanup(): Promise<void>
}

/**
 * A fresh store of one kind: a SQLite file in `dir`, or a PostgresStore on a fresh schema of the
 * machine's PostgreSQL (dropped by `cleanup`).
 */
export async function openKindStore(
  kind: StoreKind,
  dir: string,
  o: {
    sqlite?: Partial<SqliteStoreOptions>
    postgres?: Omit<PostgresStoreOptions, 'url' | 'schema'>
  } = {},
): Promise<KindStore> {
  if (kind === 'sqlite') {
    const store = new SqliteStore({
      file: join(dir, 'tessera.db'),
      synchronous: 'NORMAL',
      ...o.sqlite,
    })
    return { store, schema: undefined, cleanup: () => Promise.resolve() }
  }
  const schema = await createTestSchema()
  return { store: schema.store(o.postgres), schema, cleanup: () => schema.drop() }
}

// --- seeding a database that a child process serves --------------------------------------------

/** Creates a user straight in the store (the child servers run on the real clock). */
export function seedUser(store: Store, username = 'alice'): Promise<UserRecord> {
  return createUser(
    {
      store,
      clock: new MonotonicClock(),
      random: cryptoRandom,
      passwordCost: { N: 1024, r: 8, p: 1 },
    },
    { username, password: 'correct horse battery', email: `${username}@example.test` },
  )
}

/**
 * Writes an authorization code straight into the store, as /authorize would, and
 * returns the form that redeems it. Times are real (the child servers use the real clock).
 */
export async function storeCode(
  store: Store,
  user: UserRecord,
  clientId = 'web-app',
): Promise<{ codeHash: string; form: Record<string, string> }> {
  const client = await store.getClient(clientId)
  const redirectUri = client?.redirectUris[0]
  if (!client || !redirectUri) throw new Error(`no client ${clientId} with a redirect URI`)
  const verifier = randomBytes(32).toString('base64url')
  const code = randomBytes(32).toString('base64url')
  const now = Date.now()
  const codeHash = sha256b64u(code)
  await store.createCode({
    codeHash,
    clientId,
    userId: user.id,
    browserSessionId: null,
    redirectUri,
    scope: 'openid offline_access read',
    resources: client.audiences,
    nonce: null,
    codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
    codeChallengeMethod: 'S256',
    authTime: now,
    amr: ['pwd'],
    createdAt: now,
    expiresAt: now + 60_000,
    consumedAt: null,
    sessionId: null,
    userAgent: 'reliability',
    ip: '127.0.0.1',
  })
  return {
    codeHash,
    form: {
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: clientId,
    },
  }
}

// --- child-process servers ------------------------------------------------------------------------

export interface ChildServer {
  url: string
  process: ChildProcess
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** What the process wrote to stderr (for failure messages). */
  stderr(): string
}

/** Starts `fixtures/server.ts` in a new Node process and waits until it listens. */
export function startChildServer(o: FixtureOptions, timeoutMs = 30_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_FIXTURE, JSON.stringify(o)], {
    cwd: PACKAGE_DIR,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  let out = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`server fixture not ready within ${timeoutMs} ms: ${err}`))
    }, timeoutMs)
    void exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`server fixture exited (${code ?? signal}) before it was ready: ${err}`))
    })
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (!line) return
      clearTimeout(timer)
      const ready = JSON.parse(line) as { url: string }
      resolve({ url: ready.url, process: child, exited, stderr: () => err })
    })
  })
}

/** SIGKILL: no shutdown hooks, no flush, no closing of the database. */
export async function kill9(c: ChildServer): Promise<void> {
  if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL')
  await c.exited
}

/** A graceful stop (SIGTERM), falling back to SIGKILL after 10 s. */
export async function stopChild(c: ChildServer): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return
  c.process.kill('SIGTERM')
  const timer = setTimeout(() => c.process.kill('SIGKILL'), 10_000)
  await c.exited
  clearTimeout(timer)
}

/**
 * Runs `fixtures/hold-write-lock.ts`; resolves once the other process holds the write lock. It
 * lets go after `ms`, or, with `'on-release'`, when `release()` is called (so the test knows for
 * certain that the lock was still held up to that moment).
 */
export function holdWriteLock(
  dbFile: string,
  ms: number | 'on-release',
): Promise<{ released: Promise<void>; process: ChildProcess; release(): void }> {
  const arg = ms === 'on-release' ? 'stdin' : String(ms)
  const child = spawn(process.execPath, ['--import', 'tsx', LOCK_FIXTURE, dbFile, arg], {
    cwd: PACKAGE_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const release = (): void => {
    child.stdin.end('release\n')
  }
  if (ms !== 'on-release') child.stdin.end()
  let out = ''
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const released = new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => {
      if (code === 0 && out.includes('released')) resolve()
      else reject(new Error(`lock holder failed (${code}): ${err}`))
    })
  })
  released.catch(() => undefined)
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (out.includes('locked')) resolve({ released, process: child, release })
    })
    released.then(
      () => reject(new Error('lock holder exited before taking the lock')),
      (e: unknown) => reject(e as Error),
    )
  })
}
