import { spawn, type ChildProcess } from 'node:child_process'
import { randomFillSync } from 'node:crypto'
import path from 'node:path'

export interface TesseraProcess {
  issuer: string
  api: string
  /** Follows an authorization URL through the hosted form as alice; the redirect to the app. */
  follow(url: URL): Promise<string>
  setClock(now: number): Promise<void>
  /** The server's session row. */
  session(sid: string): Promise<Record<string, unknown> | null>
  /** The newest security events of `type`. */
  events(
    type: string,
  ): Promise<{ type: string; sessionId: string | null; data: Record<string, unknown> }[]>
  close(): Promise<void>
}

/** Starts the real Tessera server in a child process (see test/server/tessera-process.ts). */
export async function startTesseraProcess(): Promise<TesseraProcess> {
  const script = path.join(__dirname, '../server/tessera-process.ts')
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@tessera/source', '--import', 'tsx', script],
    { cwd: path.join(__dirname, '../..'), stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const info = await new Promise<{ control: string; issuer: string; api: string }>(
    (resolve, reject) => {
      let out = ''
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString()
        const nl = out.indexOf('\n')
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)))
      })
      child.on('exit', (code) => reject(new Error(`the Tessera process exited with ${code}`)))
    },
  )
  const post = async (p: string, body: unknown) => {
    const res = await fetch(info.control + p, { method: 'POST', body: JSON.stringify(body) })
    if (!res.ok) throw new Error(`${p}: ${res.status} ${await res.text()}`)
    return (await res.json()) as { location: string }
  }
  return {
    issuer: info.issuer,
    api: info.api,
    follow: async (url) => (await post('/follow', { url: url.href })).location,
    session: async (sid) =>
      (
        await fetch(`${info.control}/session?sid=${encodeURIComponent(sid)}`)
      ).json() as Promise<Record<string, unknown> | null>,
    events: async (type) =>
      (await fetch(`${info.control}/events?type=${encodeURIComponent(type)}`)).json() as never,
    setClock: async (now) => {
      await post('/clock', { now })
    },
    async close() {
      await post('/close', {}).catch(() => {})
      child.stdin!.end()
    },
  }
}

/** expo-crypto's getRandomValues, as the native module answers it (the platform CSPRNG). */
export const fakeExpoCrypto = {
  getRandomValues<T extends Uint8Array>(a: T): T {
    randomFillSync(a)
    return a
  },
}
