import { request } from 'node:http'
import {
  makeProof as makeBareProof,
  type ProofOptions as BareProofOptions,
} from '../../../verify/test/helpers/dpop.js'
import type { DpopKey } from '../../../verify/test/helpers/dpop.js'
import type { TestServer } from './test-server.js'

// One proof maker for both packages' tests: @tessera/verify's, with the server's defaults.
export { athOf, dpopKey, type DpopKey } from '../../../verify/test/helpers/dpop.js'

export interface ProofOptions extends Omit<BareProofOptions, 'iat'> {
  /** Seconds. Default: the server clock's now. */
  iat?: number
}

/** A DPoP proof JWT (RFC 9449 4.2), POST and dated `nowMs` unless the options say otherwise. */
export function makeProof(key: DpopKey, o: ProofOptions, nowMs: number): string {
  return makeBareProof(key, {
    ...o,
    htm: o.htm ?? 'POST',
    iat: o.iat ?? Math.floor(nowMs / 1000),
  })
}

/** A proof for the test server's token endpoint, at the server's (fake) time. */
export function tokenProof(t: TestServer, key: DpopKey, o: Partial<ProofOptions> = {}): string {
  return makeProof(key, { htu: `${t.url}/oauth/token`, ...o }, t.clock.now())
}

/** A proof for the test server's userinfo endpoint (GET by default) with the access token. */
export function userinfoProof(
  t: TestServer,
  key: DpopKey,
  accessToken: string,
  o: Partial<ProofOptions> = {},
): string {
  return makeProof(key, { htu: `${t.url}/userinfo`, htm: 'GET', accessToken, ...o }, t.clock.now())
}

/**
 * POSTs a form with raw headers through node:http, where a header given as a list is sent once
 * per value (fetch would join them into one).
 */
export function postRaw(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; body: any }> {
  const payload = Buffer.from(new URLSearchParams(form).toString())
  const u = new URL(url)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(payload.length),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown,
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}
