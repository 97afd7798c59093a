import { CliError, EXIT, type CliIo } from './cli-io.js'

const MAX_BYTES = 4096

/**
 * A password from standard input, never from the command line (where `ps` and shell history would
 * show it). From a pipe or with `--password-stdin`: the first line of the input. From a terminal:
 * typed twice without echo.
 */
export async function readPassword(
  io: CliIo,
  fromStdin: boolean,
  what: 'password' | 'key' = 'password',
): Promise<string> {
  if (fromStdin || !io.stdin.isTTY || !io.stdin.setRawMode) return firstLine(io, what)
  const label = what === 'password' ? 'Password' : 'Key'
  const first = await promptHidden(io, `${label}: `)
  if (what === 'key') return first
  const again = await promptHidden(io, `Repeat ${what}: `)
  if (first !== again) throw new CliError('the passwords do not match', EXIT.data)
  return first
}

async function firstLine(io: CliIo, what: string): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of io.stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    chunks.push(b)
    size += b.length
    if (size > MAX_BYTES) throw new CliError(`the ${what} on stdin is too long`, EXIT.data)
    if (b.includes(0x0a)) break
  }
  const text = Buffer.concat(chunks).toString('utf8')
  const line = text.split(/\r?\n/)[0] ?? ''
  if (line === '') throw new CliError(`no ${what} on stdin (give it as the first line)`, EXIT.usage)
  return line
}

function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const stdin = io.stdin
  const setRaw = stdin.setRawMode?.bind(stdin)
  io.stderr.write(prompt)
  setRaw?.(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  return new Promise((resolve, reject) => {
    let buf = ''
    const finish = (): void => {
      stdin.off('data', onData)
      setRaw?.(false)
      stdin.pause()
      io.stderr.write('\n')
    }
    const onData = (data: string | Buffer): void => {
      for (const ch of String(data)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish()
          resolve(buf)
          return
        }
        if (ch === '\u0003') {
          finish()
          reject(new CliError('cancelled', 130))
          return
        }
        if (ch === '\u007f' || ch === '\b') buf = buf.slice(0, -1)
        else buf += ch
      }
    }
    stdin.on('data', onData)
  })
}
