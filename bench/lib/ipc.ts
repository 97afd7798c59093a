import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'

/**
 * The target side of the IPC protocol in child.ts: announce readiness, answer requests, profile
 * on demand, and close down on `stop`.
 */
export type Handler = (msg: Record<string, unknown>) => Promise<unknown>

/**
 * `profile-start` / `profile-stop` (with `file`): a V8 CPU profile of this process between the two,
 * written as a .cpuprofile, the format `node --cpu-prof` writes. Started on request, so it covers
 * the measured load only, not start-up, seeding or the warm-up.
 */
function profilerHandlers(): Record<string, Handler> {
  let session: Session | undefined
  return {
    async 'profile-start'() {
      session = new Session()
      session.connect()
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 1000 })
      await session.post('Profiler.start')
      return null
    },
    async 'profile-stop'(msg) {
      if (!session) throw new Error('no profile running')
      const { profile } = await session.post('Profiler.stop')
      session.disconnect()
      session = undefined
      writeFileSync(String(msg.file), JSON.stringify(profile))
      return msg.file
    },
  }
}

export function serveIpc(
  info: Record<string, unknown>,
  handlers: Record<string, Handler>,
  close: () => Promise<void>,
): void {
  if (!process.send) throw new Error('this module runs as a child of the bench (no IPC channel)')
  const all: Record<string, Handler> = { ...profilerHandlers(), ...handlers }
  const send = (m: unknown) => process.send?.(m)
  process.on('message', (raw: Record<string, unknown>) => {
    const id = raw.id as number
    const type = raw.type as string
    if (type === 'stop') {
      void close()
        .catch((err: unknown) => console.error('close failed', err))
        .finally(() => process.exit(0))
      return
    }
    const h = all[type]
    if (!h) {
      send({ type: 'reply', id, ok: false, error: `unknown request ${type}` })
      return
    }
    h(raw).then(
      (result) => send({ type: 'reply', id, ok: true, result }),
      (err: unknown) =>
        send({
          type: 'reply',
          id,
          ok: false,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        }),
    )
  })
  // The bench going away ends the target too.
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0))
  })
  send({ type: 'ready', info })
}
