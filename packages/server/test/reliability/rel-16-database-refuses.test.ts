import { randomBytes } from 'node:crypto'
import type pg from 'pg'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { codeForm, mintCode, postForm } from '../helpers/grants.js'
import { adminClient, PG_URL } from '../helpers/postgres.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'
import { generationOf, refreshForm, sessionIdOf } from './support.js'

/**
 * REL-16: PostgreSQL refuses connections while refresh chains run. The server connects to a
 * database made for this file, as a role of its own (not a superuser, so privileges and logins
 * can be taken away). Each case makes the database refuse new connections in one way, then
 * terminates the server's backends so the pool must connect again, holds the refusal while the
 * chains keep refreshing, and lifts it. Required:
 * - no 500 ever: every failed answer is 503 temporarily_unavailable with Retry-After, no tokens;
 * - the refusal really bit (503s were answered while it held, counted by the server per SQLSTATE:
 *   the expected code is among them);
 * - the log has one warning for the burst, no error lines and no stack trace, and the burst's
 *   closing line counts exactly the 503s the clients and /readyz saw;
 * - recovery without a restart: /readyz 200 again, every chain's next refresh rotates, nothing
 *   revoked, no reuse recorded.
 */

const CHAINS = 8
const HOLD_MS = 1500
const tag = randomBytes(4).toString('hex')
const DB = `tessera_rel16e_${tag}`
const ROLE = `tessera_rel16e_${tag}`

let admin: pg.Client

function urlAs(role: string, database: string): string {
  const u = new URL(PG_URL)
  u.username = role
  u.password = ''
  u.pathname = `/${database}`
  return u.toString()
}

beforeAll(async () => {
  admin = await adminClient()
  await admin.query(`create role ${ROLE} login`)
  // The role owns the database, and so its public schema (PostgreSQL 15: pg_database_owner).
  await admin.query(`create database ${DB} owner ${ROLE}`)
})
afterAll(async () => {
  await admin.query(`drop database if exists ${DB} with (force)`)
  await admin.query(`drop database if exists ${DB}_moved with (force)`)
  await admin.query(`drop role if exists ${ROLE}`)
  await admin.end()
})

/** Terminates the server's connections: the pool has to open new ones, which are refused. */
async function terminateServerBackends(database: string): Promise<void> {
  await admin.query(
    `select pg_terminate_backend(pid) from pg_stat_activity
      where datname = $1 and usename = $2 and pid <> pg_backend_pid()`,
    [database, ROLE],
  )
}

interface Case {
  name: string
  /** The SQLSTATE the server must have met while the refusal held. */
  code: string
  refuse(): Promise<void>
  allow(): Promise<void>
}

const q = (text: string) => async () => {
  await admin.query(text)
}

const CASES: Case[] = [
  {
    name: 'ALTER DATABASE ... ALLOW_CONNECTIONS false',
    code: '55000',
    refuse: q(`alter database ${DB} allow_connections false`),
    allow: q(`alter database ${DB} allow_connections true`),
  },
  {
    name: 'REVOKE CONNECT',
    code: '42501',
    refuse: async () => {
      await admin.query(`revoke connect on database ${DB} from public`)
      await admin.query(`revoke connect on database ${DB} from ${ROLE}`)
    },
    allow: q(`grant connect on database ${DB} to ${ROLE}`),
  },
  {
    name: 'the role may no longer log in',
    code: '28000',
    refuse: q(`alter role ${ROLE} nologin`),
    allow: q(`alter role ${ROLE} login`),
  },
  {
    name: 'the database is gone (renamed away)',
    code: '3D000',
    refuse: async () => {
      // A database is renamed only without sessions: refuse first, then clear them out.
      await admin.query(`alter database ${DB} allow_connections false`)
      await terminateServerBackends(DB)
      await admin.query(`alter database ${DB} rename to ${DB}_moved`)
      await admin.query(`alter database ${DB}_moved allow_connections true`)
    },
    allow: q(`alter database ${DB}_moved rename to ${DB}`),
  },
  {
    name: 'too many connections for the role',
    code: '53300',
    refuse: q(`alter role ${ROLE} connection limit 0`),
    allow: q(`alter role ${ROLE} connection limit -1`),
  },
]

interface Outcome {
  status: number
  error: string | undefined
  retryAfter: string | null
  cacheControl: string | null
  refreshToken: string | undefined
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('REL-16 the database refuses connections under refresh chains (PostgreSQL)', () => {
  it.each(CASES)(
    'REL-16 $name ($code): only 200 or 503 with Retry-After, one warning for the burst, recovery without a restart',
    async (c) => {
      const lines: Record<string, any>[] = []
      const logger = pino(
        { level: 'info' },
        { write: (s: string) => lines.push(JSON.parse(s) as Record<string, any>) },
      )
      const store = new PostgresStore({
        url: urlAs(ROLE, DB),
        poolSize: 4,
        connectTimeoutMs: 1000,
        statementTimeoutMs: 2000,
      })
      let t: TestServer | undefined = await startTestServer({ store, logger })
      try {
        const server = t
        const user = await server.createUser(`user_${c.code}`)
        const tokens: string[] = []
        for (let i = 0; i < CHAINS; i++) {
          const r = await postForm(
            server.url + '/oauth/token',
            codeForm(await mintCode(server, user)),
          )
          expect(r.status, JSON.stringify(r.body)).toBe(200)
          tokens.push(r.body.refresh_token as string)
        }
        const fromLog = lines.length

        const outcomes: Outcome[] = []
        const duringRefusal: Outcome[] = []
        let refusing = false
        let running = true
        const chains = tokens.map(async (_, i) => {
          while (running) {
            const r = await postForm(server.url + '/oauth/token', refreshForm(tokens[i]!))
            const o: Outcome = {
              status: r.status,
              error: r.body?.error as string | undefined,
              retryAfter: r.headers.get('retry-after'),
              cacheControl: r.headers.get('cache-control'),
              refreshToken: r.body?.refresh_token as string | undefined,
            }
            outcomes.push(o)
            if (refusing) duringRefusal.push(o)
            if (o.status === 200) tokens[i] = o.refreshToken!
            else await sleep(20)
          }
        })
        const readyz: number[] = []
        let refused = false
        try {
          await sleep(200)
          refused = true
          await c.refuse()
          await terminateServerBackends(DB)
          refusing = true
          await sleep(HOLD_MS)
          const r = await fetch(server.url + '/readyz')
          readyz.push(r.status)
          expect([r.status, r.headers.get('retry-after')]).toStrictEqual([503, '5'])
          refusing = false
          refused = false
          await c.allow()
          for (;;) {
            const ready = await fetch(server.url + '/readyz')
            readyz.push(ready.status)
            if (ready.status === 200) break
            await sleep(50)
          }
        } finally {
          running = false
          if (refused) await c.allow()
          await Promise.all(chains)
        }

        // Only 200 and retryable 503, never a 500.
        for (const o of outcomes) {
          expect([200, 503], JSON.stringify(o)).toContain(o.status)
          if (o.status === 503) {
            expect(o.error).toBe('temporarily_unavailable')
            expect(o.retryAfter).toBe('5')
            expect(o.cacheControl).toBe('no-store')
            expect(o.refreshToken).toBeUndefined()
          }
        }
        // The refusal bit: while it held, requests were answered 503.
        expect(duringRefusal.filter((o) => o.status === 503).length).toBeGreaterThan(0)

        // Recovered without a restart: each chain's next refresh rotates it.
        for (const rt of tokens) {
          const r = await postForm(server.url + '/oauth/token', refreshForm(rt))
          expect(r.status, JSON.stringify(r.body)).toBe(200)
          const s = (await server.store.getSession(sessionIdOf(rt)))!
          expect([s.state, s.generation]).toStrictEqual([
            'active',
            generationOf(r.body.refresh_token as string),
          ])
          expect(await server.store.listEvents({ sessionId: s.id })).toEqual([])
        }

        await server.close()
        t = undefined
        const log = lines.slice(fromLog)
        const warnings = log.filter((l) => l.level === 40)
        expect(warnings.map((l) => [l.msg, l.failure])).toStrictEqual([
          ['database unavailable: answering 503 until it is back', 'unavailable'],
        ])
        expect(log.filter((l) => l.level >= 50)).toEqual([])
        expect(log.filter((l) => JSON.stringify(l).includes('"stack"'))).toEqual([])
        const ended = log.filter((l) => l.msg === 'database available again')
        expect(ended).toHaveLength(1)
        const answered503 =
          outcomes.filter((o) => o.status === 503).length + readyz.filter((s) => s === 503).length
        expect(ended[0]!.requests).toBe(answered503)
        expect(Object.keys(ended[0]!.codes as Record<string, number>)).toContain(c.code)
      } finally {
        await t?.close()
      }
    },
    60_000,
  )
})
