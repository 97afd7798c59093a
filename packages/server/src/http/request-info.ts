import { isIP } from 'node:net'
import type { FastifyRequest } from 'fastify'

/**
 * The client's IP address. X-Forwarded-For is honoured only when the direct peer is a configured
 * trusted proxy, walking from the right past trusted hops (TOK-09): a client cannot spoof its
 * address by sending the header itself.
 */
export function clientIp(req: FastifyRequest, trustProxy: readonly string[]): string {
  const peer = normalizeIp(req.socket.remoteAddress ?? '')
  if (trustProxy.length === 0 || !trustProxy.includes(peer)) return peer
  const header = req.headers['x-forwarded-for']
  const raw = Array.isArray(header) ? header.join(',') : (header ?? '')
  const hops = raw
    .split(',')
    .map((s) => normalizeIp(s.trim()))
    .filter((s) => s !== '')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string
    if (isIP(hop) === 0) return peer
    if (!trustProxy.includes(hop)) return hop
  }
  return hops[0] ?? peer
}

function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
}

export function userAgent(req: FastifyRequest): string | null {
  const ua = req.headers['user-agent']
  return typeof ua === 'string' ? ua.slice(0, 512) : null
}

/** Parses the Cookie header; the first occurrence of a name wins. */
export function cookies(req: FastifyRequest): Map<string, string> {
  const out = new Map<string, string>()
  const header = req.headers.cookie
  if (!header) return out
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim())
  }
  return out
}

export interface CookieOptions {
  maxAgeSeconds?: number
  secure: boolean
  sameSite: 'Lax' | 'Strict' | 'None'
  path?: string
}

/** Serializes a cookie that is always HttpOnly. */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  const parts = [`${name}=${value}`, `Path=${o.path ?? '/'}`, 'HttpOnly', `SameSite=${o.sameSite}`]
  if (o.secure) parts.push('Secure')
  if (o.maxAgeSeconds !== undefined)
    parts.push(`Max-Age=${Math.max(0, Math.floor(o.maxAgeSeconds))}`)
  return parts.join('; ')
}
