import { execFile } from 'node:child_process'
import { readFileSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const bin = fileURLToPath(new URL('../../dist/bin/tessera.js', import.meta.url))

describe('the tessera bin', () => {
  it('npm run build emits dist/bin/tessera.js executable, with its shebang, and it runs', async () => {
    await run('npm', ['run', 'build', '--silent'], { cwd: root, timeout: 120_000 })
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true)
    expect(statSync(bin).mode & 0o111).toBe(0o111)
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string
      bin: Record<string, string>
    }
    expect(pkg.bin.tessera).toBe('./dist/bin/tessera.js')
    const { stdout } = await run(bin, ['--version'], { cwd: root })
    expect(stdout).toBe(pkg.version + '\n')
  }, 180_000)
})
