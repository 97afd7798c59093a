import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** Messages between the bench and a target process, over the Node IPC channel. */
export type ChildMessage =
  | { type: 'ready'; info: Record<string, unknown> }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string }

export interface StartChildOptions {
  /** Module of the target, run with tsx. */
  script: URL
  env?: Record<string, string>
  /** Milliseconds to wait for the target's `ready` message. Default 30 000. */
  startTimeoutMs?: number
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url))

/**
 * A target server in its own process, so the load generator never shares its event loop. The
 * child reports `ready` with its URL; requests to it (`call`) are answered over IPC.
 */
export class TargetProcess {
  readonly info: Record<string, unknown>
  readonly #child: ChildProcess
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  readonly #log: { text: string }
  readonly #exit: Promise<number | null>
  #nextId = 1

  private constructor(
    child: ChildProcess,
    info: Record<string, unknown>,
    log: { text: string },
    exit: Promise<number | null>,
  ) {
    this.#child = child
    this.info = info
    this.#log = log
    this.#exit = exit
    child.on('message', (m: ChildMessage) => {
      if (m.type !== 'reply') return
      const p = this.#pending.get(m.id)
      if (!p) return
      this.#pending.delete(m.id)
      if (m.ok) p.resolve(m.result)
      else p.reject(new Error(m.error))
    })
  }

  static async start(opts: StartChildOptions): Promise<TargetProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(opts.script)], {
      cwd: repoRoot,
      env: { ...process.env, NODE_ENV: 'production', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const log = { text: '' }
    const collect = (b: Buffer) => {
      log.text = (log.text + b.toString('utf8')).slice(-20_000)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    )
    const info = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`target ${opts.script.pathname} did not start in time\n${log.text}`))
      }, opts.startTimeoutMs ?? 30_000)
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') {
          clearTimeout(timer)
          resolve(m.info)
        }
      })
      void exit.then((code) => {
        clearTimeout(timer)
        reject(
          new Error(
            `target ${opts.script.pathname} exited with ${code} before it was ready\n${log.text}`,
          ),
        )
      })
    })
    return new TargetProcess(child, info, log, exit)
  }

  get pid(): number | undefined {
    return this.#child.pid
  }

  /** The last 20 kB the target wrote to stdout and stderr. */
  get output(): string {
    return this.#log.text
  }

  /** Asks the target to do something (seed data, report) and waits for its answer. */
  call<T>(type: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.#child.send({ type, id, ...args })
    })
  }

  /** Asks the target to close its server and exit; kills it if it has not after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.#child.exitCode !== null) return this.#child.exitCode
    this.#child.send({ type: 'stop', id: 0 })
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), timeoutMs)
    const code = await this.#exit
    clearTimeout(timer)
    return code
  }
}
