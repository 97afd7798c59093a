import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toOAuthError } from '../../src/http/app.js'
import { PostgresStore } from '../../src/store/postgres-store.js'
import { storeFailure } from '../../src/store/store-failure.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
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
