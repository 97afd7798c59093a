/**
 * The bridge in Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real
 * Tessera server and three real APIs verifying with @tessera/verify: a shell on 127.0.0.1 signs
 * in once through the hosted form; micro frontends on localhost origins (other ports, another
 * site) get tokens from it over the bridge. Refreshes are counted at the browser and in the
 * server's store.
 */
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, launchChromiumBlockingThirdPartyCookies } from '../helpers/chromium.js'
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

  it('BRG-01 a forged source, a wrong version or extra fields are ignored, on the window and on the port', async () => {
    const context = await browser.newContext()
    const shell = await sys.signedInShell(context)
    const hello = { tessera: 'tessera-bridge', v: 1, type: 'hello', id: 'forged-hello-0001' }
    // A window of a registered origin that is not a frame of the shell (a popup it opened).
    const [popup] = await Promise.all([
      context.waitForEvent('page'),
      shell.evaluate((url) => void window.open(url), sys.frames.orders.url + '/'),
    ])
    await popup.waitForFunction(() => window.frame !== undefined)
    await popup.evaluate(([m, to]) => window.opener.postMessage(m, to), [
      hello,
      sys.shell.url,
    ] as const)
    await shell.waitForFunction(() => window.__bridgeEvents.length >= 1)
    expect(await events(shell)).toEqual([
      { type: 'ignored', origin: sys.frames.orders.url, reason: 'source_not_a_frame' },
    ])
    // A frame of a registered origin, with a wrong version, an extra field, a bad id.
    const orders = await sys.addFrame(shell, sys.frames.orders, 'orders')
    for (const m of [
      { ...hello, v: 2 },
      { ...hello, extra: 'x' },
      { ...hello, id: 'short' },
    ])
      await orders.evaluate(([msg, to]) => window.parent.postMessage(msg, to), [
        m,
        sys.shell.url,
      ] as const)
    await shell.waitForFunction(() => window.__bridgeEvents.length >= 4)
    expect((await events(shell)).slice(1)).toEqual(
      Array(3).fill({ type: 'ignored', origin: sys.frames.orders.url, reason: 'invalid_message' }),
    )
    expect(await popup.evaluate(() => window.__received)).toEqual([])
    expect(await orders.evaluate(() => window.__received)).toEqual([])

    // On the port: a token request with an extra field gets no answer; the same without it does.
    const outcome = await orders.evaluate(
      async ([to, audience]) => {
        const port = await new Promise<MessagePort>((resolve) => {
          window.addEventListener('message', (e) => resolve(e.ports[0]!))
          window.parent.postMessage(
            { tessera: 'tessera-bridge', v: 1, type: 'hello', id: 'raw-hello-00000001' },
            to,
          )
        })
        const replies: unknown[] = []
        port.onmessage = (e) => replies.push(e.data)
        const request = { tessera: 'tessera-bridge', v: 1, type: 'token-request', audience }
        port.postMessage({ ...request, id: 'request-extra-0001', extra: true })
        port.postMessage({ ...request, id: 'request-v2-0000001', v: 2 })
        port.postMessage({ ...request, id: 'request-good-00001' })
        while (!replies.some((r: any) => r.type === 'token'))
          await new Promise((r) => setTimeout(r, 20))
        // Session pushes (refreshing, signed-in) may come too; requests get nothing else.
        return replies.filter((r: any) => r.type !== 'session').map((r: any) => `${r.type}:${r.id}`)
      },
      [sys.shell.url, sys.apis.orders.url] as const,
    )
    expect(outcome).toEqual(['token:request-good-00001'])
    const last = (await events(shell)).slice(-4)
    expect(last).toEqual([
      { type: 'connected', origin: sys.frames.orders.url },
      { type: 'ignored', origin: sys.frames.orders.url, reason: 'invalid_message' },
      { type: 'ignored', origin: sys.frames.orders.url, reason: 'invalid_message' },
      { type: 'token', origin: sys.frames.orders.url, audience: sys.apis.orders.url },
    ])
    await context.close()
  })

  it('SDK-01 ten frames asking at once after the tokens expired make one refresh request', async () => {
    const context = await browser.newContext()
    const seen = sys.countRefreshes(context)
    const shell = await sys.signedInShell(context)
    const frames: Frame[] = []
    for (let i = 0; i < 10; i++) frames.push(await sys.addFrame(shell, sys.frames.orders, `o${i}`))
    const first = await getToken(frames[0]!, sys.apis.orders.url)
    for (const f of frames) expect(await getToken(f, sys.apis.orders.url)).toBe(first)
    expect(seen.resources).toEqual([sys.apis.orders.url])
    const sid = await shell.evaluate(() => window.tessera.getSnapshot().sessionId)
    const before = (await sys.t.store.getSession(sid!))!

    sys.t.clock.advance(6 * 60_000)
    await shell.evaluate((ms) => (window.__shift = ms), 6 * 60_000)
    // A barrier: every frame waits for one BroadcastChannel message, then all ask at once.
    await Promise.all(
      frames.map((f) =>
        f.evaluate((aud) => {
          const bc = new BroadcastChannel('go')
          ;(window as any).__asked = new Promise<string>((resolve, reject) => {
            bc.onmessage = () => window.frame.getToken({ audience: aud }).then(resolve, reject)
          })
        }, sys.apis.orders.url),
      ),
    )
    await frames[0]!.evaluate(() => new BroadcastChannel('go').postMessage('go'))
    await frames[0]!.evaluate(() => (window as any).__asked)
    const tokens = await Promise.all(
      frames.slice(1).map((f) => f.evaluate(() => (window as any).__asked)),
    )
    tokens.push(await frames[0]!.evaluate(() => (window as any).__asked))
    expect(new Set(tokens).size).toBe(1)
    expect(tokens[0]).not.toBe(first)
    expect(payloadOf(tokens[0]).aud).toBe(sys.apis.orders.url)
    expect(seen.resources).toEqual([sys.apis.orders.url, sys.apis.orders.url])
    const after = (await sys.t.store.getSession(sid!))!
    expect(after.generation).toBe(before.generation + 1)
    await context.close()
    sys.t.clock.set(Date.now())
  })

  it('FRM-03 sign-out in the shell reaches every frame within one second; their next getToken fails with signed_out', async () => {
    const context = await browser.newContext()
    const { shell, frames } = await shellWithFrames(context)
    for (const name of ['orders', 'billing', 'analytics'] as const)
      await getToken(frames[name], sys.apis[name].url)
    await shell.evaluate(() => window.tessera.signOut({ navigate: false }))
    await Promise.all(
      Object.values(frames).map((f) =>
        f.waitForFunction(() => window.frame.getSnapshot().status === 'signed-out', undefined, {
          timeout: 1000,
        }),
      ),
    )
    for (const name of ['orders', 'billing', 'analytics'] as const) {
      expect(await frames[name].evaluate(() => window.frame.getSnapshot().reason)).toBe('sign_out')
      expect(await codeOf(frames[name], sys.apis[name].url)).toBe(
        `BridgeError:signed_out:${sys.apis[name].url}: the shell has no session: sign in`,
      )
    }
    await context.close()
  })

  it('BRG-03 the shell answers only the requesting window at its origin, never *', async () => {
    const context = await browser.newContext()
    const shell = await sys.signedInShell(context)
    await shell.evaluate(() => (window.__hold = true))
    const orders = await sys.addFrame(shell, sys.frames.orders, 'orders')
    await orders.evaluate(() => void window.frame.connect().catch(() => {}))
    await shell.waitForFunction(() => window.__held() > 0)
    // The frame's window moves to another origin before the shell answers its handshake.
    await orders.evaluate((url) => location.assign(url), sys.stranger.url + '/')
    const stranger = shell.frame({ name: 'orders' })!
    await stranger.waitForFunction(
      (origin) => location.origin === origin && window.frame !== undefined,
      sys.stranger.url,
    )
    await shell.evaluate(() => window.__release())
    await shell.waitForFunction(() => window.__bridgeEvents.some((e) => e.type === 'connected'))
    // The shell did answer (to the orders origin); the browser delivered nothing to the stranger.
    expect(await stranger.evaluate(() => window.__received)).toEqual([])
    await context.close()
  })

  it('BRG-03 no token appears in a URL or the console', async () => {
    const context = await browser.newContext()
    const urls: string[] = []
    const logs: string[] = []
    context.on('request', (r) => urls.push(r.url()))
    context.on('console', (m) => logs.push(m.text()))
    const { frames } = await shellWithFrames(context)
    const tokens: string[] = []
    for (const name of ['orders', 'billing', 'analytics'] as const) {
      tokens.push(await getToken(frames[name], sys.apis[name].url))
      await frames[name].evaluate(
        (url) => window.frame.fetch(url + '/hello').then((r) => r.status),
        sys.apis[name].url,
      )
    }
    expect(urls.length).toBeGreaterThan(10)
    for (const token of tokens) {
      expect(urls.filter((u) => u.includes(token))).toEqual([])
      expect(logs.filter((l) => l.includes(token))).toEqual([])
      const sig = token.split('.')[2]!
      expect(urls.filter((u) => u.includes(sig))).toEqual([])
    }
    await context.close()
  })

  it('fetch: a 401 invalid_token makes the shell refresh that token once and the request is replayed once', async () => {
    const context = await browser.newContext()
    const seen = sys.countRefreshes(context)
    const { frames } = await shellWithFrames(context)
    const first = await getToken(frames.orders, sys.apis.orders.url)
    const refreshes = seen.resources.length
    sys.apis.orders.rejectNext = 1
    const status = await frames.orders.evaluate(
      (url) => window.frame.fetch(url + '/hello').then((r) => r.status),
      sys.apis.orders.url,
    )
    expect(status).toBe(200)
    expect(seen.resources.length).toBe(refreshes + 1)
    const last = sys.apis.orders.authorizations.slice(-2)
    expect(last[0]).toBe(`Bearer ${first}`)
    expect(last[1]).not.toBe(`Bearer ${first}`)
    // A second 401 is returned as is, after one more refresh, without a loop.
    sys.apis.orders.rejectNext = 2
    const again = await frames.orders.evaluate(
      (url) => window.frame.fetch(url + '/hello').then((r) => r.status),
      sys.apis.orders.url,
    )
    expect(again).toBe(401)
    expect(seen.resources.length).toBe(refreshes + 2)
    await context.close()
  })

  it('FRM-05 with third-party cookies blocked, frames still get tokens and their APIs answer', async () => {
    const blocking = await launchChromiumBlockingThirdPartyCookies()
    try {
      // Blocking is in effect: a cookie of the frames' site, set and readable first-party, is
      // withheld from the same site's page inside the shell (a third-party context).
      const context = await blocking.newContext()
      const top = await context.newPage()
      await top.goto(sys.frames.orders.url + '/')
      const firstParty = await top.evaluate(() => {
        document.cookie = 'probe=1; SameSite=None; Secure'
        return document.cookie
      })
      expect(firstParty).toBe('probe=1')
      await top.close()
      const { frames } = await shellWithFrames(context)
      expect(await frames.orders.evaluate(() => document.cookie)).toBe('')
      for (const name of ['orders', 'billing', 'analytics'] as const) {
        const status = await frames[name].evaluate(
          (url) => window.frame.fetch(url + '/hello').then((r) => r.status),
          sys.apis[name].url,
        )
        expect(status).toBe(200)
      }
      await context.close()
    } finally {
      await blocking.close()
    }
  })

  it('a slow shell: getToken rejects with timeout after requestTimeoutMs', async () => {
    const context = await browser.newContext()
    const shell = await sys.signedInShell(context)
    const orders = await sys.addFrame(shell, sys.frames.orders, 'orders')
    // The shell's refresh hangs at the network until the test lets it go.
    let release!: () => void
    const released = new Promise<void>((r) => (release = r))
    let held = 0
    await context.route(sys.t.url + '/oauth/token', async (route) => {
      held++
      await released
      await route.continue()
    })
    const code = await orders.evaluate(
      ([shellOrigin, aud]) =>
        window.__code(
          window
            .__createFrameClient({ shellOrigin: shellOrigin, requestTimeoutMs: 300 })
            .getToken({ audience: aud }),
        ),
      [sys.shell.url, sys.apis.orders.url] as const,
    )
    expect(code).toBe(
      `BridgeError:timeout:${sys.apis.orders.url}: the shell did not answer within 300 ms`,
    )
    expect(held).toBe(1)
    release()
    // Once the shell answers, the next call gets the token.
    expect(payloadOf(await getToken(orders, sys.apis.orders.url)).aud).toBe(sys.apis.orders.url)
    await context.close()
  })

  it('a lock in the shell reaches the frames; their getToken fails with locked', async () => {
    const saved = sys.shell.config
    sys.shell.config = { ...saved, idleLockSeconds: 2 }
    const context = await browser.newContext()
    try {
      const shell = await sys.signedInShell(context)
      const orders = await sys.addFrame(shell, sys.frames.orders, 'orders')
      await orders.evaluate(() => window.frame.connect())
      await orders.waitForFunction(() => window.frame.getSnapshot().locked, undefined, {
        timeout: 15_000,
      })
      expect(await shell.evaluate(() => window.tessera.getSnapshot().locked)).toBe(true)
      expect(await codeOf(orders, sys.apis.orders.url)).toBe(
        `BridgeError:locked:${sys.apis.orders.url}: the shell session is locked`,
      )
      await shell.evaluate(() => window.tessera.unlock())
      await orders.waitForFunction(() => !window.frame.getSnapshot().locked)
      expect(payloadOf(await getToken(orders, sys.apis.orders.url)).aud).toBe(sys.apis.orders.url)
    } finally {
      sys.shell.config = saved
      await context.close()
    }
  })

  it('the connection ends when the frame document goes away (bye on pagehide): a reload reconnects, another origin gets nothing', async () => {
    const context = await browser.newContext()
    const shell = await sys.signedInShell(context)
    const orders = await sys.addFrame(shell, sys.frames.orders, 'orders')
    await getToken(orders, sys.apis.orders.url)
    expect(await shell.evaluate(() => window.bridge.connectionCount)).toBe(1)
    // A reload: the old document says bye on pagehide, the new one connects again.
    await orders.evaluate(() => location.reload())
    const reloaded = shell.frame({ name: 'orders' })!
    await reloaded.waitForFunction(() => window.frame !== undefined)
    await getToken(reloaded, sys.apis.orders.url)
    // The window now shows another origin, whose page tries to connect.
    await reloaded.evaluate((url) => location.assign(url), sys.stranger.url + '/')
    const stranger = shell.frame({ name: 'orders' })!
    await stranger.waitForFunction(
      (o) => location.origin === o && window.frame !== undefined,
      sys.stranger.url,
    )
    expect(await codeOf(stranger, sys.apis.orders.url)).toMatch(/^BridgeError:shell_unavailable:/)
    const evs = (await events(shell)).filter(
      (e) => e.type === 'connected' || e.type === 'disconnected',
    )
    expect(evs).toEqual([
      { type: 'connected', origin: sys.frames.orders.url },
      { type: 'disconnected', origin: sys.frames.orders.url, reason: 'bye' },
      { type: 'connected', origin: sys.frames.orders.url },
      { type: 'disconnected', origin: sys.frames.orders.url, reason: 'bye' },
    ])
    expect(await shell.evaluate(() => window.bridge.connectionCount)).toBe(0)
    await context.close()
  })
})
