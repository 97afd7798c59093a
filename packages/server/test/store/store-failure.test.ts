import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:net'
import { sql } from 'kysely'
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toOAuthError } from '../../src/http/app.js'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { atConnect, storeFailure } from '../../src/store/store-failure.js'
import { adminClient, createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import { freePort } from '../helpers/test-server.js'

/**
 * What each real PostgreSQL failure is answered with: the errors are produced for real (a pool
 * that is full, a port nobody listens on, a statement past its timeout, a raised SQLSTATE), then
 * classified the way the error serialiser does it.
 */

/** A store that can run any SQL through its own pool. */
class RawStore extends PostgresStore {
  run(text: string): Promise<unknown> {
    return sql.raw(text).execute(this.db)
  }
}

async function failureOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the operation to fail')
}

let schema: TestSchema
beforeAll(async () => {
  schema = await createTestSchema()
})
afterAll(async () => {
  await schema.drop()
})

describe('store failures on PostgreSQL, as answered', () => {
  it('a full pool: "timeout exceeded when trying to connect" is unavailable, 503 Retry-After 5', async () => {
    const store = new RawStore({
      url: PG_URL,
      schema: schema.name,
      poolSize: 1,
      connectTimeoutMs: 100,
    })
    try {
      const busy = store.run('select pg_sleep(1)')
      const err = await failureOf(store.ping())
      expect((err as Error).message).toMatch(/^timeout exceeded when trying to connect/)
      expect(storeFailure(err)).toBe('unavailable')
      const oe = toOAuthError(err)
      expect([oe.status, oe.error, oe.headers['retry-after']]).toStrictEqual([
        503,
        'temporarily_unavailable',
        '5',
      ])
      await busy
    } finally {
      await store.close()
    }
  })

  it('nobody listening: ECONNREFUSED is unavailable', async () => {
    const store = new RawStore({ url: `postgres://postgres@127.0.0.1:${await freePort()}/test` })
    try {
      const err = await failureOf(store.ping())
      expect(storeFailure(err)).toBe('unavailable')
      expect(toOAuthError(err).status).toBe(503)
    } finally {
      await store.close()
    }
  })

  it('a statement past statement_timeout (57014) is busy, 503 Retry-After 1', async () => {
    const store = new RawStore({ url: PG_URL, schema: schema.name, statementTimeoutMs: 100 })
    try {
      const err = await failureOf(store.run('select pg_sleep(2)'))
      expect((err as { code?: string }).code).toBe('57014')
      expect(storeFailure(err)).toBe('busy')
      const oe = toOAuthError(err)
      expect([oe.status, oe.error, oe.headers['retry-after']]).toStrictEqual([
        503,
        'temporarily_unavailable',
        '1',
      ])
    } finally {
      await store.close()
    }
  })

  it.each([
    ['40001', 'busy'],
    ['40P01', 'busy'],
    ['55P03', 'busy'],
    ['57P01', 'unavailable'],
    ['25006', 'unavailable'],
    ['53300', 'unavailable'],
    ['23505', undefined],
    ['P0001', undefined],
    // Raised by a statement, 55000 (object not in prerequisite state) is a bug, not an outage:
    // only at a connection's start-up does it mean the database refuses connections (REL-16).
    ['55000', undefined],
  ] as const)('SQLSTATE %s raised by the server is %s', async (code, kind) => {
    const store = new RawStore({ url: PG_URL, schema: schema.name, maxAttempts: 1 })
    try {
      const err = await failureOf(
        store.run(`do $$ begin raise exception 'injected' using errcode = '${code}'; end $$`),
      )
      expect((err as { code?: string }).code).toBe(code)
      expect(storeFailure(err)).toBe(kind)
      expect(toOAuthError(err).status).toBe(kind === undefined ? 500 : 503)
    } finally {
      await store.close()
    }
  })
})

/**
 * A PostgreSQL that is starting up (or in recovery without hot standby): it answers every
 * start-up message with FATAL 57P03, as the real server does, and closes the connection.
 */
async function startingUpServer(): Promise<{ port: number; server: Server }> {
  const field = (type: string, value: string) => Buffer.from(`${type}${value}\0`, 'utf8')
  const fields = Buffer.concat([
    field('S', 'FATAL'),
    field('V', 'FATAL'),
    field('C', '57P03'),
    field('M', 'the database system is starting up'),
    Buffer.from([0]),
  ])
  const header = Buffer.alloc(5)
  header.write('E', 0, 'latin1')
  header.writeInt32BE(fields.length + 4, 1)
  const server = createServer((socket) => {
    socket.once('data', () => socket.end(Buffer.concat([header, fields])))
    socket.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server }
}

/**
 * REL-16: the database refuses connections. Each refusal is produced for real at a connection's
 * start-up (only 57P03 comes from a stand-in that speaks the protocol, as a starting PostgreSQL
 * cannot be made on demand here) and must be answered 503 temporarily_unavailable with
 * `Retry-After: 5`, never 500, whatever its SQLSTATE.
 */
describe('REL-16 errors while acquiring a connection are the database being unavailable', () => {
  const tag = randomBytes(4).toString('hex')
  const database = `tessera_rel16_${tag}`
  const role = `tessera_rel16_${tag}`
  let admin: pg.Client

  const urlFor = (o: { user?: string; database?: string; port?: number }) => {
    const u = new URL(PG_URL)
    if (o.user) u.username = o.user
    if (o.database) u.pathname = `/${o.database}`
    if (o.port) u.port = String(o.port)
    return u.toString()
  }

  beforeAll(async () => {
    admin = await adminClient()
    await admin.query(`create role ${role} login`)
    await admin.query(`create database ${database}`)
  })
  afterAll(async () => {
    await admin.query(`drop database if exists ${database} with (force)`)
    await admin.query(`drop role if exists ${role}`)
    await admin.end()
  })

  async function refusal(url: string, prepare: () => Promise<void>, undo: () => Promise<void>) {
    await prepare()
    const store = new RawStore({ url, connectTimeoutMs: 2000 })
    try {
      return await failureOf(store.ping())
    } finally {
      await store.close()
      await undo()
    }
  }

  const cases: {
    name: string
    code: string | undefined
    message: RegExp
    provoke: () => Promise<unknown>
  }[] = [
    {
      name: 'ALTER DATABASE ... ALLOW_CONNECTIONS false (55000)',
      code: '55000',
      message: /is not currently accepting connections/,
      provoke: () =>
        refusal(
          urlFor({ database }),
          () => admin.query(`alter database ${database} allow_connections false`).then(() => {}),
          () => admin.query(`alter database ${database} allow_connections true`).then(() => {}),
        ),
    },
    {
      name: 'the database is starting up (57P03)',
      code: '57P03',
      message: /the database system is starting up/,
      provoke: async () => {
        const fake = await startingUpServer()
        try {
          return await refusal(
            urlFor({ port: fake.port }),
            () => Promise.resolve(),
            () => Promise.resolve(),
          )
        } finally {
          fake.server.close()
        }
      },
    },
    {
      name: 'a role that may not log in (28000)',
      code: '28000',
      message: /is not permitted to log in/,
      provoke: () =>
        refusal(
          urlFor({ user: role, database }),
          () => admin.query(`alter role ${role} nologin`).then(() => {}),
          () => admin.query(`alter role ${role} login`).then(() => {}),
        ),
    },
    {
      name: 'REVOKE CONNECT (42501)',
      code: '42501',
      message: /permission denied for database/,
      provoke: () =>
        refusal(
          urlFor({ user: role, database }),
          () => admin.query(`revoke connect on database ${database} from public`).then(() => {}),
          () => admin.query(`grant connect on database ${database} to public`).then(() => {}),
        ),
    },
    {
      name: 'a database that does not exist (3D000)',
      code: '3D000',
      message: /does not exist/,
      provoke: () =>
        refusal(
          urlFor({ database: `${database}_missing` }),
          () => Promise.resolve(),
          () => Promise.resolve(),
        ),
    },
    {
      name: 'too many connections for the role (53300)',
      code: '53300',
      message: /too many connections/,
      provoke: () =>
        refusal(
          urlFor({ user: role, database }),
          () => admin.query(`alter role ${role} connection limit 0`).then(() => {}),
          () => admin.query(`alter role ${role} connection limit -1`).then(() => {}),
        ),
    },
    {
      name: 'nobody listening (ECONNREFUSED)',
      code: 'ECONNREFUSED',
      message: /ECONNREFUSED/,
      provoke: async () =>
        refusal(
          urlFor({ port: await freePort() }),
          () => Promise.resolve(),
          () => Promise.resolve(),
        ),
    },
  ]

  it.each(cases)('REL-16 $name: 503 temporarily_unavailable, Retry-After 5', async (c) => {
    const err = await c.provoke()
    expect((err as { code?: string }).code).toBe(c.code)
    expect((err as Error).message).toMatch(c.message)
    expect(storeFailure(err)).toBe('unavailable')
    const oe = toOAuthError(err)
    expect([oe.status, oe.error, oe.headers['retry-after']]).toStrictEqual([
      503,
      'temporarily_unavailable',
      '5',
    ])
  })

  it('REL-16 any error marked as raised while connecting is unavailable; unmarked, the same code is not', () => {
    const unmarked = Object.assign(new Error('currval of sequence is not yet defined'), {
      code: '55000',
    })
    expect(storeFailure(unmarked)).toBeUndefined()
    expect(toOAuthError(unmarked).status).toBe(500)
    const marked = atConnect(Object.assign(new Error('some refusal'), { code: '55000' }))
    expect(storeFailure(marked)).toBe('unavailable')
    expect(toOAuthError(marked).status).toBe(503)
  })
})
