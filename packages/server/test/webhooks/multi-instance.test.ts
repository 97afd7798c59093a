import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { verifyWebhook } from '@tessera/verify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import type { Store } from '../../src/store/store.js'
import type { UserRecord } from '../../src/store/types.js'
import { postForm } from '../helpers/grants.js'
import { createTestSchema, PG_URL, type TestSchema } from '../helpers/postgres.js'
import { freePort } from '../helpers/test-server.js'
import {
  kill9,
  seedUser,
  sessionIdOf,
  startChildServer,
  stopChild,
  storeCode,
  type ChildServer,
} from '../reliability/support.js'
import { newSecret, Receiver } from './receiver.js'

/**
 * Webhooks across processes, on the real clock: server instances are child processes (the
 * reliability fixture) sharing one database, a SQLite file or a PostgreSQL schema, each with its
 * own dispatcher polling the outbox every second. Nothing here measures time; waits poll for an
 * outcome with a generous bound, and no sleep decides whether a race happens: the concurrent
 * dispatch is observed in the database while the receiver holds the deliveries, and "no
 * duplicate" is checked after every instance has stopped.
 */

const SECRET = newSecret()
let dir: string
let rx: Receiver
let reader: Store
let user: UserRecord
let schema: TestSchema | undefined
const children: ChildServer[] = []

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-webhooks-'))
  rx = await Receiver.start()
})
afterEach(async () => {
  for (const c of children.splice(0)) await stopChild(c)
  await reader.close()
  await schema?.drop()
  schema = undefined
})
afterAll(async () => {
  await rx.down()
  rmSync(dir, { recursive: true, force: true })
})

type Backend = 'sqlite' | 'postgres'

/** A fresh database of the kind, seeded with a user; returns how a child server reaches it. */
async function openDb(
  kind: Backend,
  name: string,
): Promise<{ dbFile: string; postgres?: { url: string; schema: string; poolSize: number } }> {
  rx.received.length = 0
  rx.answer = () => 204
  if (kind === 'postgres') {
    schema = await createTestSchema()
    reader = schema.store()
    await reader.migrate()
    user = await seedUser(reader)
    return {
      dbFile: 'unused: the servers use PostgreSQL',
      postgres: { url: PG_URL, schema: schema.name, poolSize: 4 },
    }
  }
  const dbFile = join(dir, `${name}.db`)
  reader = new SqliteStore({ file: dbFile })
  await reader.migrate()
  user = await seedUser(reader)
  return { dbFile }
}

async function child(db: Awaited<ReturnType<typeof openDb>>, port?: number): Promise<ChildServer> {
  const c = await startChildServer({
    ...db,
    port: port ?? (await freePort()),
    webhooks: { endpoints: [{ url: rx.url, secret: SECRET }] },
  })
  children.push(c)
  return c
}

/** Signs in through `server` and revokes the session there: one session.revoked event. */
async function signInAndRevoke(server: ChildServer): Promise<string> {
  const { form } = await storeCode(reader, user)
  const r = await postForm(server.url + '/oauth/token', form)
  expect(r.status, JSON.stringify(r.body)).toBe(200)
  const rt = r.body.refresh_token as string
  const v = await postForm(server.url + '/oauth/revoke', { token: rt, client_id: 'web-app' })
  expect(v.status).toBe(200)
  return `msg_${sessionIdOf(rt)}`
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.each<Backend>(['sqlite', 'postgres'])(
  'webhooks with several server instances on one %s database',
  (kind) => {
    it('two instances deliver every event exactly once under normal operation', async () => {
      const db = await openDb(kind, 'two')
      const [a, b] = [await child(db), await child(db)]
      // The receiver holds every delivery until both dispatchers are seen holding leases at the
      // same time (their lease owners in the database): the race is observed, not hoped for. It
      // is certain: a dispatcher's pass claims at most 20 deliveries (its batch) and waits for
      // them, so the first to claim is stuck at the gate, and the events past the 20th (or any made
      // after its claim) can only be claimed by the other instance.
      let open!: () => void
      rx.gate = new Promise<void>((r) => (open = r))
      const ids: string[] = []
      for (let i = 0; i < 30; i++) ids.push(await signInAndRevoke(i % 2 === 0 ? a : b))
      const owners = new Set<string>()
      try {
        await until('deliveries in flight from both instances at once', async () => {
          const leased = (await reader.listWebhookDeliveries({})).filter(
            (d) => d.leaseOwner !== null,
          )
          owners.clear()
          for (const d of leased) owners.add(d.leaseOwner!)
          return owners.size === 2
        })
      } finally {
        rx.gate = undefined
        open()
      }

      await until('every event', () => new Set(rx.ids()).size === ids.length)
      await until('every delivery settled', async () => {
        const [messages, deliveries] = await Promise.all([
          reader.listWebhookMessages(),
          reader.listWebhookDeliveries({}),
        ])
        return messages.length === 0 && deliveries.length === 0
      })
      // Both instances stopped (a graceful stop hands back what is in flight): nothing is left
      // that could still send, so a duplicate would be in the receiver by now.
      for (const c of children.splice(0)) await stopChild(c)
      expect(rx.ids().sort()).toStrictEqual([...ids].sort())
      for (const r of rx.received) {
        expect((await verifyWebhook(r.body, r.headers, { secret: SECRET })).id).toBe(r.id)
      }
      expect(await reader.listWebhookMessages()).toStrictEqual([])
      expect(await reader.listWebhookDeliveries({})).toStrictEqual([])
      const attempts = await reader.listWebhookAttempts({ limit: 1000 })
      expect(attempts).toHaveLength(ids.length)
    }, 90_000)

    it('an instance killed with -9 while its receiver was down delivers the event after restart', async () => {
      const db = await openDb(kind, 'crash')
      const port = await freePort()
      const server = await child(db, port)
      await rx.down()
      const id = await signInAndRevoke(server)
      // The event is durable before anything was delivered.
      const outbox = async () =>
        (await reader.listWebhookMessages())
          .map((m) => m.id)
          .concat((await reader.listWebhookDeliveries({})).map((d) => d.messageId))
      expect(await outbox()).toStrictEqual([id])
      await kill9(server)
      children.splice(children.indexOf(server), 1)
      expect(rx.received).toStrictEqual([])
      expect(await outbox()).toStrictEqual([id])

      await rx.up()
      await child(db, port)
      await until('the event after the restart', () => rx.received.length > 0)
      await until('the delivery settled', async () => (await outbox()).length === 0)
      // Stopped: nothing is left that could still send, so a duplicate would be here by now.
      for (const c of children.splice(0)) await stopChild(c)
      expect(rx.ids()).toStrictEqual([id])
      const got = await verifyWebhook(rx.received[0]!.body, rx.received[0]!.headers, {
        secret: SECRET,
      })
      expect(got.event).toMatchObject({ type: 'session.revoked', data: { user_id: user.id } })
      expect(await outbox()).toStrictEqual([])
    })
  },
)
