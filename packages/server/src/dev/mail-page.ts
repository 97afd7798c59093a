/**
 * `/dev/mail`: the mail `tessera dev` caught in memory (no SMTP relay configured), newest first,
 * so a newcomer can click a verification or reset link. Registered only in dev mode with the
 * memory catcher; `tessera start` never has it.
 */
import type { FastifyInstance } from 'fastify'
import { ACCOUNT_PATHS } from '../accounts/account-services.js'
import type { ServerContext } from '../context.js'
import { MemoryTransport } from '../email/mail-transport.js'
import { escapeHtml, sendPage } from '../login/page.js'

/** Makes URLs of the issuer in a text clickable; everything else escaped. */
function linkify(text: string, issuer: string): string {
  return escapeHtml(text).replace(/https?:\/\/[^\s<]+/g, (u) =>
    u.startsWith(escapeHtml(issuer)) ? `<a href="${u}">${u}</a>` : u,
  )
}

export function devMailRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const transport = ctx.mailer.transport
  if (!ctx.config.dev || !(transport instanceof MemoryTransport)) return
  app.get(ACCOUNT_PATHS.devMail, async (_req, reply) => {
    const mails = transport.list()
    const body =
      `<h1>Mail caught by tessera dev</h1>` +
      (mails.length === 0
        ? '<p>No mail yet.</p>'
        : mails
            .map(
              (m) =>
                `<article><h2>${escapeHtml(m.subject)}</h2><p>To: ${escapeHtml(m.to)}<br>` +
                `${new Date(m.at).toISOString()}</p><pre>` +
                `${linkify(m.text, ctx.config.issuer)}</pre></article>`,
            )
            .join('<hr>'))
    return sendPage(reply, 200, 'Dev mail', body)
  })
}
