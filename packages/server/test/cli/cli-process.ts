import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
/** The CLI's source entry, run with tsx so tests need no build. */
export const CLI_ENTRY = resolve(here, '../../src/bin/tessera.ts')
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/** An environment without the parent's Tessera settings, so tests are hermetic. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) {
    const v = process.env[k]
    if (v !== undefined) env[k] = v
  }
  return { ...env, ...extra }
}

export function tempDir(prefix = 'tessera-cli-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

export interface SpawnOptions {
  cwd: string
  env?: Record<string, string>
  /** Default: the CLI; a fixture script may stand in. */
  entry?: string
  stdin?: string
}

/** A running CLI process whose output is collected as it comes. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  #waiters: (() => void)[] = []

  constructor(args: string[], o: SpawnOptions) {
    this.child = spawn(process.execPath, ['--import', TSX, o.entry ?? CLI_ENTRY, ...args], {
      cwd: o.cwd,
      env: o.env ?? cleanEnv(),
      stdio: 'pipe',
    })
    this.child.stdout.setEncoding('utf8').on('data', (s: string) => {
      this.stdout += s
      this.#notify()
    })
    this.child.stderr.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s
      this.#notify()
    })
    if (o.stdin !== undefined) this.child.stdin.end(o.stdin)
    else this.child.stdin.end()
    this.exited = new Promise((res) => {
      this.child.on('close', (code, signal) => {
        this.#notify()
        res({ code, signal })
      })
    })
  }

  #notify(): void {
    for (const w of this.#waiters.splice(0)) w()
  }

  /** Resolves with the first match of `re` in stdout; rejects on timeout or exit. */
  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = re.exec(this.stdout)
      if (m) return m
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(`process exited before ${re}: ${this.stdout}\n${this.stderr}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${re}: ${this.stdout}\n${this.stderr}`)
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 200))
        this.#waiters.push(() => {
          clearTimeout(t)
          res()
        })
      })
    }
  }

  /** Waits for the `url:` line and returns it. */
  async url(): Promise<string> {
    const m = await this.waitFor(/^url: (\S+)$/m)
    return m[1] as string
  }

  /** Every `key: value` line of stdout, keys in order with all their values. */
  values(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const line of this.stdout.split('\n')) {
      const m = /^([a-z_]+): (.*)$/.exec(line)
      if (!m) continue
      const [, k, v] = m as unknown as [string, string, string]
      out.set(k, [...(out.get(k) ?? []), v])
    }
    return out
  }

  /** Sends SIGTERM and waits for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    return this.exited
  }
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  o: SpawnOptions,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new CliProcess(args, o)
  const { code } = await p.exited
  return { code, stdout: p.stdout, stderr: p.stderr }
}

/** Runs the CLI in this process with captured output: for the cases that never start a server. */
export async function runInProcess(
  args: string[],
  o: { cwd: string; env?: Record<string, string>; stdin?: string },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { runCli: run } = await import('../../src/bin/cli.js')
  const { Readable } = await import('node:stream')
  let stdout = ''
  let stderr = ''
  const code = await run(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from(o.stdin === undefined ? [] : [Buffer.from(o.stdin)]),
    env: o.env ?? cleanEnv(),
    cwd: o.cwd,
  })
  return { code, stdout, stderr }
}
