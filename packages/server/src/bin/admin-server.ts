import { pino } from 'pino'
import type { TesseraConfig } from '../config/config.js'
import { createTesseraServer, type TesseraServer } from '../server.js'

/**
 * The server's parts without listening, for admin commands that need them wired exactly as the
 * server wires them (the key manager's rotation timing, the configured clients). Warnings go to
 * stderr, so stdout holds only the command's output.
 */
export async function withAdminServer<T>(
  config: TesseraConfig,
  fn: (server: TesseraServer) => Promise<T>,
): Promise<T> {
  const level = config.logLevel === 'silent' ? 'silent' : 'warn'
  const logger = pino({ level }, pino.destination({ dest: 2, sync: true }))
  const server = await createTesseraServer({ config, logger })
  try {
    return await fn(server)
  } finally {
    await server.close()
  }
}
