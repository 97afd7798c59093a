import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig, type TesseraConfig } from '@tessera/server'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'

/**
 * The Dockerfile and compose.yaml at the repository root. Docker's daemon is not available on
 * every machine that runs the tests (this one has the client only), so the files are parsed and
 * checked for what matters; where a daemon answers, the image is built too (last block).
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

interface Instruction {
  op: string
  args: string
}
interface Stage {
  from: string
  name: string | undefined
  body: Instruction[]
}

/** Dockerfile instructions by stage (comments dropped, continuation lines joined). */
function dockerfile(): { args: Instruction[]; stages: Stage[] } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const lines = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
  const args: Instruction[] = []
  const stages: Stage[] = []
  for (const l of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(l) ?? []
    const ins = { op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ') }
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?: AS (\S+))?$/i.exec(ins.args)
      stages.push({ from: m?.[1] ?? '', name: m?.[2], body: [] })
    } else if (stages.length === 0) {
      args.push(ins)
    } else {
      stages.at(-1)!.body.push(ins)
    }
  }
  return { args, stages }
}

const all = (s: Stage, op: string) => s.body.filter((i) => i.op === op).map((i) => i.args)

interface Service {
  image?: string
  build?: unknown
  command?: string[]
  environment?: Record<string, string>
  volumes?: string[]
  ports?: string[]
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}

function compose(): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  return parse(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')) as {
    services: Record<string, Service>
    volumes: Record<string, unknown>
  }
}

/** Compose's interpolation of `${VAR}`, `${VAR:-default}` and `${VAR:?error}`. */
function interpolate(v: string, env: Record<string, string>): string {
  return v.replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, kind, rest) => {
    const value = env[name]
    if (value !== undefined && value !== '') return value
    if (kind === '-') return rest as string
    throw new Error(`compose would stop: ${name} is not set (${rest as string})`)
  })
}

const HOST_ENV = {
  TESSERA_SECRET: 'compose-test-secret-compose-test-secret-0123456789',
  POSTGRES_PASSWORD: 'pw-0123456789abcdef',
}

/** The configuration the compose file's tessera service starts with: its mounted file and its
 * environment (interpolated as compose does), through the server's own loader. */
function composedConfig(): TesseraConfig {
  const s = compose().services.tessera!
  const command = s.command ?? []
  const inContainer = command[command.indexOf('--config') + 1]
  const mount = (s.volumes ?? [])
    .map((v) => v.split(':'))
    .find(([, target]) => target === inContainer)
  expect(mount, 'the --config file is mounted').toBeDefined()
  const env = Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), HOST_ENV)]),
  )
  // The image's own environment (ENV), which compose's environment overrides.
  const image = Object.fromEntries(
    all(dockerfile().stages.at(-1)!, 'ENV')
      .join(' ')
      .split(' ')
      .map((kv) => kv.split('='))
      .filter((kv): kv is [string, string] => kv.length === 2),
  )
  return loadConfig({ file: join(ROOT, mount![0]!), env: { ...image, ...env }, cwd: ROOT })
}

describe('Dockerfile', () => {
  const { stages } = dockerfile()
  const runtime = stages.at(-1)!

  it('is multi-stage: the build runs npm ci and npm run build; the runtime stage only copies what it installed', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const build = stages[0]!
    const run = all(build, 'RUN').join(' && ')
    expect(run).toContain('npm ci')
    expect(run).toContain('npm run build')
    // The last stage builds nothing and installs nothing: no compiler, no sources, no npm ci.
    expect(runtime.from).toMatch(/-slim$/)
    expect(all(runtime, 'RUN').join(' ')).not.toMatch(/npm (ci|install)|npm run build/)
    expect(all(runtime, 'COPY').every((c) => c.startsWith('--from='))).toBe(true)
    expect(all(runtime, 'COPY').join(' ')).not.toContain('/src')
  })

  it('runs as a user other than root', () => {
    const user = all(runtime, 'USER').at(-1)
    expect(user).toBeDefined()
    expect(['root', '0', '0:0']).not.toContain(user)
  })

  it('listens on 0.0.0.0 inside the container and runs tessera start', () => {
    expect(all(runtime, 'ENV').join(' ')).toMatch(/\bTESSERA_HOST=0\.0\.0\.0\b/)
    expect(all(runtime, 'ENTRYPOINT')[0]).toContain('/dist/bin/tessera.js')
    expect(all(runtime, 'CMD')).toEqual(['["start"]'])
  })

  it('checks its health on /healthz of the public port', () => {
    const hc = all(runtime, 'HEALTHCHECK')
    expect(hc).toHaveLength(1)
    expect(hc[0]).toMatch(/CMD .*\/healthz/)
    expect(hc[0]).toContain('127.0.0.1')
    expect(hc[0]).toMatch(/TESSERA_PORT \|\| process\.env\.PORT \|\| 4000/)
  })

  it('keeps its data on a volume (the SQLite file, by default in the working directory)', () => {
    expect(all(runtime, 'VOLUME')).toEqual(['["/data"]'])
    expect(all(runtime, 'WORKDIR').at(-1)).toBe('/data')
    // The default database of `tessera start` without a setting: .tessera/ under the cwd.
    const config = loadConfig({
      env: { ...HOST_ENV, TESSERA_ISSUER: 'https://a.example' },
      cwd: '/data',
    })
    expect(config.database).toEqual({ driver: 'sqlite', file: '/data/.tessera/tessera.db' })
  })

  it('exposes the ports the compose configuration listens on', () => {
    const exposed = all(runtime, 'EXPOSE').join(' ').split(' ').map(Number).sort()
    const c = composedConfig()
    const used = [...new Set([c.port, c.admin.port, c.metrics.port])].sort()
    expect(exposed).toEqual(used)
  })
})

describe('compose.yaml: Tessera on PostgreSQL', () => {
  const { services, volumes } = compose()

  it('postgres has a healthcheck; tessera waits for it to be healthy', () => {
    const pg = services.postgres!
    expect(pg.image).toMatch(/^postgres:/)
    expect(pg.healthcheck?.test.join(' ')).toContain('pg_isready -U tessera -d tessera')
    expect(services.tessera!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } })
    // Its data outlives the container.
    expect(pg.volumes).toContain('postgres-data:/var/lib/postgresql/data')
    expect(volumes).toHaveProperty('postgres-data')
  })

  it('the tessera service is built from the Dockerfile and checks /healthz', () => {
    const t = services.tessera!
    expect(t.build).toBe('.')
    expect(t.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:4000/healthz')
  })

  it('its configuration (mounted file + environment) passes the server’s resolver and uses the postgres service', () => {
    const c = composedConfig()
    expect(c.database.driver).toBe('postgres')
    const url = new URL(c.database.driver === 'postgres' ? c.database.url : '')
    const pg = services.postgres!.environment!
    expect(url.hostname).toBe('postgres')
    expect(url.port).toBe('5432')
    expect(url.username).toBe(pg.POSTGRES_USER)
    expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`)
    // The same password the postgres service is given, from the same variable.
    expect(decodeURIComponent(url.password)).toBe(HOST_ENV.POSTGRES_PASSWORD)
    expect(pg.POSTGRES_PASSWORD).toContain('${POSTGRES_PASSWORD')
    expect(c.host).toBe('0.0.0.0')
    expect(c.admin).toMatchObject({ port: 4001, host: '0.0.0.0' })
    expect(c.metrics).toStrictEqual({ port: 4001, host: '0.0.0.0' })
  })

  it('the secrets come from the environment, never from the files', () => {
    const t = services.tessera!
    expect(t.environment?.TESSERA_SECRET).toMatch(/^\$\{TESSERA_SECRET:\?/)
    expect(() => interpolate(t.environment!.TESSERA_SECRET!, {})).toThrow(/TESSERA_SECRET/)
    const file = readFileSync(join(ROOT, 'deploy/tessera.json'), 'utf8')
    expect(file).not.toMatch(/secret|password/i)
    expect(readFileSync(join(ROOT, 'compose.yaml'), 'utf8')).not.toContain(HOST_ENV.TESSERA_SECRET)
  })

  it('publishes the public port; the internal one (Admin API, console, /metrics) only on the host’s loopback', () => {
    const c = composedConfig()
    const ports = services.tessera!.ports ?? []
    expect(ports).toContain(`${c.port}:${c.port}`)
    expect(ports).toContain(`127.0.0.1:${c.admin.port}:${c.admin.port}`)
    expect(ports.some((p) => p.endsWith(`:${c.admin.port}`) && !p.startsWith('127.0.0.1:'))).toBe(
      false,
    )
  })
})

/** Whether a Docker daemon answers (the client alone is not enough to build). */
function dockerDaemon(): boolean {
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8' })
  return r.status === 0 && r.stdout.trim() !== ''
}

// Runs where a Docker daemon answers (CI machines with one); elsewhere the checks above stand in.
describe.runIf(dockerDaemon())('docker build', () => {
  it('builds the image; it runs as a non-root user with tessera as its entrypoint', () => {
    const tag = `tessera-test:${process.pid}`
    execFileSync('docker', ['build', '-t', tag, ROOT], { stdio: 'inherit', timeout: 1_800_000 })
    try {
      const inspect = JSON.parse(
        execFileSync('docker', ['image', 'inspect', tag], { encoding: 'utf8' }),
      ) as { Config: { User: string; Healthcheck: { Test: string[] } } }[]
      expect(inspect[0]!.Config.User).toBe('node')
      expect(inspect[0]!.Config.Healthcheck.Test.join(' ')).toContain('/healthz')
      const version = execFileSync('docker', ['run', '--rm', tag, '--version'], {
        encoding: 'utf8',
      })
      expect(version.trim()).toMatch(/\d+\.\d+\.\d+/)
    } finally {
      spawnSync('docker', ['image', 'rm', '-f', tag])
    }
  }, 1_800_000)
})
