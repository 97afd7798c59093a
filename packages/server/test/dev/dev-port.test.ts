import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { CliProcess, cleanEnv, runInProcess, tempDir } from '../cli/cli-process.js'
import { freePort } from '../helpers/test-server.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let tmp: ReturnType<typeof tempDir>
beforeAll(() => {
  tmp = tempDir('tessera-dev-port-')
})
afterAll(() => tmp.remove())

async function devUrl(args: string[], env: Record<string, string>): Promise<string> {
  const p = new CliProcess(['dev', ...args], { cwd: tmp.dir, env: cleanEnv(env) })
  try {
    return await p.url()
  } finally {
    await p.stop()
  }
}

describe('tessera dev: the port from --port, TESSERA_PORT or PORT', () => {
  it('PORT sets the port and the issuer; TESSERA_PORT wins over it; --port over both', async () => {
    const a = await freePort()
    expect(await devUrl([], { PORT: String(a) })).toBe(`http://localhost:${a}`)
    const b = await freePort()
    expect(await devUrl([], { PORT: String(a), TESSERA_PORT: String(b) })).toBe(
      `http://localhost:${b}`,
    )
    const c = await freePort()
    expect(await devUrl(['--port', String(c)], { PORT: String(a), TESSERA_PORT: String(b) })).toBe(
      `http://localhost:${c}`,
    )
  })

  it('a PORT that is not a port number is a usage error naming the variable', async () => {
    const r = await runInProcess(['dev'], { cwd: tmp.dir, env: cleanEnv({ PORT: '65536' }) })
    expect(r.code).toBe(64)
    expect(r.stderr).toContain('PORT must be a number from 0 to 65535')
    expect(r.stdout).toBe('')
  })
})
