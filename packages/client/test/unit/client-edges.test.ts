/**
 * Rules that had no test: the `aborted` error, the clock offset taken from the `Date` header,
 * and the test clock's own promise: `advance` waits for the work a timer started.
 */
import { webcrypto } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  createTesseraClient,
  memoryStorage,
  TesseraClientError,
  type DiagnosticEvent,
} from '../../src/index.js'
import { inFlightCount, ManualClock, settle, track } from '../helpers/clocks.js'
import { API, CLIENT_ID, FakeProvider, ISSUER, REDIRECT } from '../helpers/fake-provider.js'

const SESSION_KEY = `tessera.${CLIENT_ID}.session`

async function setup() {
  const clock = new ManualClock()
  const provider = await new FakeProvider(() => clock.now()).init()
  const storage = memoryStorage()
  const events: DiagnosticEvent[] = []
  const client = createTesseraClient({
    issuer: ISSUER,
    clientId: CLIENT_ID,
    redirectUri: REDIRECT,
    apis: [{ baseUrl: API, audience: API }],
    fetch: provider.fetch,
    clock,
    storage,
    autoRefresh: false,
    random: () => 0.5,
    onDiagnostic: (e) => events.push(e),
  })
  await client.handleRedirectCallback(provider.authorize(await client.signIn()))
  return { clock, provider, client, storage, events }
}

async function rejection(p: Promise<unknown>): Promise<TesseraClientError> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraClientError)
    return err as TesseraClientError
  }
  throw new Error('expected a rejection')
}

describe('aborted', () => {
  it('a getToken whose refresh is in flight when the user signs out rejects with aborted; nothing is written back', async () => {
    const c = await setup()
    let answer!: () => void
    const answered = new Promise<void>((r) => (answer = r))
    let asked!: () => void
    const reached = new Promise<void>((r) => (asked = r))
    c.provider.next.push(async () => {
      asked()
      await answered // the server answers, too late
      return c.provider.json(200, {
        access_token: 'late.access.token',
        token_type: 'Bearer',
        expires_in: 900,
        refresh_token: 'rt.1',
      })
    })
    const pending = c.client.getToken({ audience: API })
    await reached
    const out = c.client.signOut()
    await expect.poll(() => c.client.getSnapshot().status).toBe('signed-out')
    answer()
    await out
    const err = await rejection(pending)
    expect(err).toMatchObject({
      code: 'aborted',
      message: 'the session ended during the refresh',
      terminal: false,
      transient: false,
    })
    expect(c.client.getSnapshot()).toMatchObject({ status: 'signed-out', reason: 'sign_out' })
    expect(await c.storage.get(SESSION_KEY)).toBeNull()
    expect(c.events).not.toContainEqual(expect.objectContaining({ type: 'retry_scheduled' }))
  })
})

describe('the clock offset from the Date header', () => {
  it('an opaque access token (no iat) and no ID token: the offset comes from Date, and lifetimes count on the server clock', async () => {
    const c = await setup()
    expect(JSON.parse((await c.storage.get(SESSION_KEY))!).clockOffsetMs).toBe(500)
    const serverNow = c.clock.now() + 10 * 60_000 // the server is 10 minutes ahead
    c.provider.next.push(() =>
      c.provider.json(
        200,
        { access_token: 'opaque.access.token', token_type: 'Bearer', expires_in: 900 },
        { date: new Date(serverNow).toUTCString() },
      ),
    )
    expect(await c.client.getToken({ audience: API })).toBe('opaque.access.token')
    // Whole seconds: the reading is taken as the middle of its second.
    expect(c.events).toContainEqual({ type: 'clock_offset', offsetMs: 600_500 })
    const rec = JSON.parse((await c.storage.get(SESSION_KEY))!)
    expect(rec.clockOffsetMs).toBe(600_500)
    expect(rec.tokens[API].expiresAt).toBe(serverNow + 500 + 900_000)
    // Fresh until 30 s before its end on the server's clock, whatever the device clock says.
    c.clock.jump(869_499)
    expect(await c.client.getToken({ audience: API })).toBe('opaque.access.token')
  })
})

describe('ManualClock.advance waits for the work a timer started', () => {
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
  }

  it('work that takes many event-loop turns, and work it starts in turn, finish before advance returns', async () => {
    const clock = new ManualClock()
    const done: string[] = []
    clock.setTimeout(() => {
      void track(turns(40)).then(() => {
        done.push('first')
        void track(webcrypto.subtle.digest('SHA-256', new Uint8Array(1 << 20))).then(() =>
          done.push('second'),
        )
      })
    }, 10)
    await clock.advance(10)
    expect(done).toEqual(['first', 'second'])
    expect(inFlightCount()).toBe(0)
  })

  it('settle returns at once when nothing is in flight, and waits for what is', async () => {
    await settle()
    let finished = false
    void track(turns(25).then(() => (finished = true)))
    await settle()
    expect(finished).toBe(true)
  })
})
