/**
 * The bridge in Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real
 * Tessera server and three real APIs verifying with @tessera/verify: a shell on 127.0.0.1 signs
 * in once through the hosted form; micro frontends on localhost origins (other ports, another
 * site) get tokens from it over the bridge. Refreshes are counted at the browser and in the
 * server's store.
 */
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../../../server/test/helpers/chromium.js'
import { payloadOf, System } from '../helpers/system.js'

let sys: System
let browser: Browser

beforeAll(async () => {
  sys = new System()
  await sys.start()
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await sys?.close()
})

async function shellWithFrames(context: BrowserContext) {
  const shell = await sys.signedInShell(context)
  const frames = {
    orders: await sys.addFrame(shell, sys.frames.orders, 'orders'),
    billing: await sys.addFrame(shell, sys.frames.billing, 'billing'),
    analytics: await sys.addFrame(shell, sys.frames.analytics, 'analytics'),
  }
  return { shell, frames }
}

const getToken = (f: Frame, audience: string) =>
  f.evaluate((aud) => window.frame.getToken({ audience: aud }), audience)
const codeOf = (f: Frame, audience: string) =>
  f.evaluate((aud) => window.__code(window.frame.getToken({ audience: aud })), audience)
const events = (shell: Page) => shell.evaluate(() => window.__bridgeEvents)

describe('Chromium: shell and micro frontends', () => {
  it('FRM-02 every frame gets a token with exactly its audience, and its API answers 200', async () => {
    const context = await browser.newContext()
    const { shell, frames } = await shellWithFrames(context)
    for (const name of ['orders', 'billing', 'analytics'] as const) {
      const api = sys.apis[name]
      const token = await getToken(frames[name], api.url)
      const claims = payloadOf(token)
      expect(claims.aud).toBe(api.url)
      expect(claims.client_id).toBe('shell-app')
      expect((claims.exp as number) - (claims.iat as number)).toBe(300)
      const res = await frames[name].evaluate(async (url) => {
        const r = await window.frame.fetch(url + '/hello')
        return { status: r.status, body: await r.json() }
      }, api.url)
      expect(res).toEqual({ status: 200, body: { api: name, sub: claims.sub, aud: api.url } })
      expect(api.authorizations.at(-1)).toBe(`Bearer ${token}`)
      expect(await frames[name].evaluate(() => window.frame.getSnapshot().status)).toBe('signed-in')
    }
    expect(await shell.evaluate(() => window.bridge.connectionCount)).toBe(3)
    // The refresh token never crosses: nothing any frame received holds one.
    for (const f of Object.values(frames)) {
      expect(JSON.stringify(await f.evaluate(() => window.__received))).not.toContain('tsr_')
    }
    await context.close()
  })

  it('BRG-02 a frame asking for an audience outside its registry entry is refused', async () => {
    const context = await browser.newContext()
    const seen = sys.countRefreshes(context)
    const { shell, frames } = await shellWithFrames(context)
    const before = seen.resources.length
    expect(await codeOf(frames.billing, sys.apis.analytics.url)).toBe(
      `BridgeError:audience_not_allowed:${sys.apis.analytics.url}: this frame may not get tokens for ${sys.apis.analytics.url}`,
    )
    expect(await codeOf(frames.billing, sys.apis.orders.url)).toMatch(
      /^BridgeError:audience_not_allowed:/,
    )
    // The shell asked the server for nothing on its behalf.
    expect(seen.resources.length).toBe(before)
    expect((await events(shell)).filter((e) => e.type === 'refused')).toEqual([
      {
        type: 'refused',
        origin: sys.frames.billing.url,
        audience: sys.apis.analytics.url,
        code: 'audience_not_allowed',
      },
      {
        type: 'refused',
        origin: sys.frames.billing.url,
        audience: sys.apis.orders.url,
        code: 'audience_not_allowed',
      },
    ])
    // Its own audience still works.
    expect(payloadOf(await getToken(frames.billing, sys.apis.billing.url)).aud).toBe(
      sys.apis.billing.url,
    )
    await context.close()
  })

  it('BRG-01 FRM-01 a page on an unregistered origin gets no reply at all', async () => {
    const context = await browser.newContext()
    const shell = await sys.signedInShell(context)
    const stranger = await sys.addFrame(shell, sys.stranger, 'stranger')
    expect(await codeOf(stranger, sys.apis.orders.url)).toBe(
      'BridgeError:shell_unavailable:no shell answered the handshake within 1500 ms',
    )
    const ignored = (await events(shell)).filter((e) => e.type === 'ignored')
    expect(ignored.length).toBeGreaterThan(0)
    expect(
      ignored.every((e) => e.origin === sys.stranger.url && e.reason === 'origin_not_registered'),
    ).toBe(true)
    expect(await stranger.evaluate(() => window.__received)).toEqual([])
    expect(await shell.evaluate(() => window.bridge.connectionCount)).toBe(0)
    await context.close()
  })
})
