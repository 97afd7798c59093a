/**
 * `tessera users reset-mfa`: the admin reset of two-step verification from the CLI, through the
 * same service as the Admin API and the console (MFA-14).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { SqliteStore } from '../../src/store/sqlite-store.js'
import { eventRecord } from '../store/records.js'
import { cleanEnv, runInProcess, tempDir } from './cli-process.js'

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

let tmp: ReturnType<typeof tempDir>
let config: string
beforeAll(() => {
  tmp = tempDir()
  config = join(tmp.dir, 'tessera.json')
  writeFileSync(
    config,
    JSON.stringify({
      issuer: 'https://auth.example.test',
      secret: 'mfa-cli-secret-mfa-cli-secret-0123456789-ab',
      database: { driver: 'sqlite', file: 'data/tessera.db' },
      passwordCost: { N: 1024, r: 8, p: 1 },
    }),
  )
})
afterAll(() => tmp.remove())

const env = cleanEnv({ USER: 'ops-alice' })
const cli = (args: string[], stdin?: string) =>
  runInProcess([...args, '--config', config], {
    cwd: '/',
    env,
    ...(stdin !== undefined ? { stdin } : {}),
  })

async function withStore<T>(fn: (s: SqliteStore) => Promise<T>): Promise<T> {
  const store = new SqliteStore({ file: join(tmp.dir, 'data', 'tessera.db') })
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}

describe('tessera users reset-mfa', () => {
  it('MFA-14 removes the authenticator and recovery codes with an mfa_reset event by the operator; a second reset is refused (65)', async () => {
    const created = await cli(['users', 'create', '--username', 'gina'], 'a long enough password\n')
    expect(created.code).toBe(0)
    const id = /^id: (\S+)$/m.exec(created.stdout)?.[1] ?? ''
    await withStore(async (s) => {
      await s.beginTotp({
        userId: id,
        secretEnc: 'enc',
        createdAt: 1,
        confirmedAt: null,
        lastStep: null,
      })
      await s.confirmTotp({
        userId: id,
        secretEnc: 'enc',
        step: 1,
        now: 2,
        recoveryCodeHashes: ['h1', 'h2'],
        event: eventRecord({ type: 'mfa_enrolled', userId: id }),
      })
    })
    const r = await cli(['users', 'reset-mfa', 'gina'])
    expect(r).toStrictEqual({ code: 0, stdout: `id: ${id}\nmfa: reset\n`, stderr: '' })
    await withStore(async (s) => {
      expect(await s.getTotp(id)).toBeUndefined()
      expect(await s.countRecoveryCodes(id)).toBe(0)
      const [event] = await s.listEvents({ type: 'mfa_reset', userId: id, limit: 5 })
      expect(event?.data.actor).toEqual({ kind: 'cli', id: 'cli', name: 'ops-alice', via: 'cli' })
    })
    const again = await cli(['users', 'reset-mfa', 'gina'])
    expect(again.code).toBe(65)
    expect(again.stderr).toBe(`tessera: user ${id} has no authenticator\n`)
  })
})
