import BetterSqlite3 from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createTestSchema, type TestSchema } from '../helpers/postgres.js'
import { startTestServer, type TestServer } from '../helpers/test-server.js'

let t: TestServer | undefined
afterEach(async () => {
  await t?.close()
  t = undefined
})

/** The samples of a Prometheus text page, by name and labels (`name{labels}`). */
async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`)
  expect(res.status).toBe(200)
  const out = new Map<string, number>()
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

/** Scrapes until `ok` holds (the server notices connection changes asynchronously). */
async function scrapeUntil(
  url: string,
  ok: (m: Map<string, number>) => boolean,
): Promise<Map<string, number>> {
  let m = await scrape(url)
  for (let i = 0; i < 100 && !ok(m); i++) {
    await new Promise((r) => setTimeout(r, 20))
    m = await scrape(url)
  }
  return m
}

const pool = (m: Map<string, number>) => ({
  inUse: m.get('tessera_db_connections{state="in_use"}'),
  idle: m.get('tessera_db_connections{state="idle"}'),
  waiting: m.get('tessera_db_waiting'),
})

function busyWait(ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // Holds the event loop on purpose.
  }
}

describe('runtime metrics in /metrics', () => {
  it('event-loop lag, heap and the SQLite connections are listed beside the request metrics', async () => {
    t = await startTestServer()
    const m = await scrape(t.url)
    for (const name of [
      'tessera_event_loop_lag_seconds{quantile="0.5"}',
      'tessera_event_loop_lag_seconds{quantile="0.9"}',
      'tessera_event_loop_lag_seconds{quantile="0.99"}',
      'tessera_event_loop_lag_max_seconds',
      'tessera_event_loop_lag_mean_seconds',
      'tessera_heap_used_bytes',
      'tessera_heap_total_bytes',
      'tessera_resident_memory_bytes',
    ]) {
      expect(m.get(name), name).toBeGreaterThanOrEqual(0)
    }
    expect(m.get('tessera_heap_used_bytes')).toBeGreaterThan(0)
    expect(m.get('tessera_heap_total_bytes')).toBeGreaterThanOrEqual(
      m.get('tessera_heap_used_bytes')!,
    )
    // A file database: the read-write connection and the refresh path's read-only one, idle.
    expect(pool(m)).toEqual({ inUse: 0, idle: 2, waiting: 0 })
  })

  it('a blocked event loop shows in the lag, which counts from the previous scrape', async () => {
    t = await startTestServer()
    await scrape(t.url)
    // The scrape resets the sampler, which then needs one sample of its own (10 ms) before it
    // measures delays again: a block in the same tick as the reset would not be seen.
    await new Promise((r) => setTimeout(r, 30))
    busyWait(300)
    // Let the sampler's timer fire after the block.
    await new Promise((r) => setTimeout(r, 50))
    const m = await scrape(t.url)
    expect(m.get('tessera_event_loop_lag_max_seconds')).toBeGreaterThanOrEqual(0.2)
    const next = await scrape(t.url)
    // Reset by the scrape: the 300 ms block is not counted twice.
    expect(next.get('tessera_event_loop_lag_max_seconds')).toBeLessThan(
      m.get('tessera_event_loop_lag_max_seconds')!,
    )
  })

  it('SQLite: a write waiting for another process’s lock holds the connection; the next query waits', async () => {
    t = await startTestServer()
    const other = new BetterSqlite3(t.dbFile)
    other.exec('BEGIN IMMEDIATE')
    const settled: Promise<unknown>[] = []
    try {
      // The user's password is hashed first; then its insert meets the lock and waits for it.
      settled.push(t.createUser('bob'))
      await scrapeUntil(t.url, (x) => pool(x).inUse === 1)
      settled.push(t.store.listUsers())
      const m = await scrapeUntil(t.url, (x) => pool(x).waiting === 1)
      expect(pool(m)).toEqual({ inUse: 1, idle: 1, waiting: 1 })
    } finally {
      other.exec('COMMIT')
      other.close()
      await Promise.allSettled(settled)
    }
    const [created, listed] = await Promise.all(settled)
    expect(created).toMatchObject({ username: 'bob' })
    expect(listed).toEqual([expect.objectContaining({ username: 'bob' })])
    expect(pool(await scrapeUntil(t.url, (x) => pool(x).idle === 2))).toEqual({
      inUse: 0,
      idle: 2,
      waiting: 0,
    })
  })
})

describe('runtime metrics on PostgreSQL', () => {
  let schema: TestSchema
  beforeAll(async () => {
    schema = await createTestSchema()
  })
  afterAll(async () => {
    await schema.drop()
  })

  it('the pool’s connections in use and idle, and the queries waiting for one', async () => {
    const store = schema.store({ poolSize: 2 })
    t = await startTestServer({ store })
    const idle = pool(await scrape(t.url))
    expect(idle.inUse).toBe(0)
    expect(idle.waiting).toBe(0)

    // A lock held elsewhere: two reads hold both connections while they wait, a third waits.
    const locker = await schema.admin()
    await locker.query('begin')
    await locker.query('lock table users in access exclusive mode')
    let reads: Promise<unknown>[] = []
    try {
      reads = [t.store.listUsers(), t.store.listUsers(), t.store.listUsers()]
      const m = await scrapeUntil(t.url, (x) => pool(x).waiting === 1 && pool(x).inUse === 2)
      expect(pool(m)).toEqual({ inUse: 2, idle: 0, waiting: 1 })
    } finally {
      await locker.query('commit')
      await locker.end()
    }
    await Promise.all(reads)
    const after = pool(await scrapeUntil(t.url, (x) => pool(x).inUse === 0))
    expect(after).toMatchObject({ inUse: 0, waiting: 0 })
  })
})
