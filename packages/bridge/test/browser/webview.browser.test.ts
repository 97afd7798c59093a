/**
 * FRM-04: the WebView page side in Chromium, the host side (`@tessera/bridge/webview-host`) in
 * Node with a real TesseraClient signed in to a real Tessera, as a React Native app would run it.
 * The stand-in for react-native-webview is the part that cannot run here, and does what it does:
 * `window.ReactNativeWebView.postMessage(string)` reaches the host's `onMessage` with the page's
 * current URL; the host's `postMessage(string)` is dispatched in the page as a `message` event
 * on `document` (Android) or `window` (iOS), as data, never as script.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTesseraClient, memoryStorage, type TesseraClient } from '@tessera/client'
import { createWebViewHost, type BridgeEvent, type WebViewHost } from '../../src/webview-host.js'
import { parseMessage } from '../../src/index.js'
import { launchChromium } from '../helpers/chromium.js'
import { followSignIn } from '../helpers/native-sign-in.js'
import { NATIVE_SHELL_REDIRECT, payloadOf, System } from '../helpers/system.js'

let sys: System
let browser: Browser
let client: TesseraClient

beforeAll(async () => {
  sys = new System()
  await sys.start()
  browser = await launchChromium()
  client = createTesseraClient({
    issuer: sys.t.url,
    clientId: 'native-shell',
    redirectUri: NATIVE_SHELL_REDIRECT,
    apis: Object.values(sys.apis).map((a) => ({ baseUrl: a.url, audience: a.url })),
    storage: memoryStorage(),
    autoRefresh: false,
  })
  await client.handleRedirectCallback(await followSignIn(sys.t, await client.signIn()))
}, 60_000)

afterAll(async () => {
  client?.dispose()
  await browser?.close()
  await sys?.close()
})

interface WebViewSetup {
  context: BrowserContext
  page: Page
  host: WebViewHost
  posted: string[]
  events: BridgeEvent[]
}

/** A WebView stand-in around a page of `url`, its host replying on `target`. */
async function openWebView(url: string, target: 'document' | 'window'): Promise<WebViewSetup> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const posted: string[] = []
  const events: BridgeEvent[] = []
  const host = createWebViewHost({
    client,
    frames: { [sys.webView.url]: { audiences: [sys.apis.orders.url] } },
    onEvent: (e) => events.push(e),
    postMessage: (data) => {
      posted.push(data)
      void page
        .evaluate(
          ([d, on]) => {
            const event = new MessageEvent('message', { data: d })
            if (on === 'document') document.dispatchEvent(event)
            else window.dispatchEvent(event)
          },
          [data, target] as const,
        )
        .catch(() => {})
    },
  })
  await page.exposeFunction('__toNative', (data: string) =>
    host.onMessage({ nativeEvent: { data, url: page.url() } }),
  )
  await page.addInitScript(() => {
    ;(window as any).ReactNativeWebView = {
      postMessage: (d: string) => void (window as any).__toNative(d),
    }
  })
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) host.onNavigation(f.url())
  })
  await page.goto(url + '/')
  await page.waitForFunction(() => window.frame !== undefined)
  return { context, page, host, posted, events }
}

describe('Chromium: a page in a React Native WebView', () => {
  for (const target of ['document', 'window'] as const) {
    it(`FRM-04 the page gets a token for its audience through ReactNativeWebView.postMessage, replies on ${target} (${target === 'document' ? 'Android' : 'iOS'})`, async () => {
      const w = await openWebView(sys.webView.url, target)
      const token = await w.page.evaluate(
        (aud) => window.frame.getToken({ audience: aud }),
        sys.apis.orders.url,
      )
      expect(payloadOf(token).aud).toBe(sys.apis.orders.url)
      const status = await w.page.evaluate(
        (url) => window.frame.fetch(url + '/hello').then((r) => r.status),
        sys.apis.orders.url,
      )
      expect(status).toBe(200)
      expect(await w.page.evaluate(() => window.frame.getSnapshot().status)).toBe('signed-in')
      // Every string the host sent is a schema-valid message; the token only in a `token` one.
      const types = w.posted.map((p) => {
        const m = parseMessage(JSON.parse(p), ['welcome', 'token', 'error', 'session'])
        expect(m).not.toBeNull()
        if (p.includes(token)) expect(m!.type).toBe('token')
        return m!.type
      })
      expect(types[0]).toBe('welcome')
      expect(types).toContain('token')
      expect(
        await w.page.evaluate(
          (aud) => window.__code(window.frame.getToken({ audience: aud })),
          sys.apis.billing.url,
        ),
      ).toMatch(/^BridgeError:audience_not_allowed:/)
      await w.context.close()
    })
  }

  it('FRM-04 BRG-01 a WebView page on an origin the host does not know gets nothing', async () => {
    const w = await openWebView(sys.webViewStranger.url, 'window')
    expect(
      await w.page.evaluate(
        (aud) => window.__code(window.frame.getToken({ audience: aud })),
        sys.apis.orders.url,
      ),
    ).toBe('BridgeError:shell_unavailable:no shell answered the handshake within 1500 ms')
    expect(w.posted).toEqual([])
    expect(w.events.length).toBeGreaterThan(0)
    expect(
      w.events.every(
        (e) =>
          e.type === 'ignored' &&
          e.origin === sys.webViewStranger.url &&
          e.reason === 'origin_not_registered',
      ),
    ).toBe(true)
    await w.context.close()
  })

  it('FRM-04 the host compares the exact origin, never a prefix', () => {
    const posted: string[] = []
    const events: BridgeEvent[] = []
    const registered = sys.webView.url
    const host = createWebViewHost({
      client,
      frames: { [registered]: { audiences: [sys.apis.orders.url] } },
      onEvent: (e) => events.push(e),
      postMessage: (d) => posted.push(d),
    })
    const hello = JSON.stringify({
      tessera: 'tessera-bridge',
      v: 1,
      type: 'hello',
      id: 'prefix-hello-0001',
    })
    const port = new URL(registered).port
    for (const url of [
      `${registered}.evil.example/`,
      `http://localhost:${port}0/`,
      `https://localhost:${port}/`,
      `http://localhost.evil.example:${port}/`,
      'about:blank',
    ])
      host.onMessage({ nativeEvent: { data: hello, url } })
    expect(posted).toEqual([])
    expect(events.map((e) => e.type === 'ignored' && e.reason)).toEqual(
      Array(5).fill('origin_not_registered'),
    )
    host.onMessage({ nativeEvent: { data: hello, url: `${registered}/orders?x=1` } })
    expect(posted.map((p) => JSON.parse(p).type)).toEqual(['welcome'])
    host.close()
  })

  it('FRM-04 a page that navigates to another origin loses its connection before anything is sent', async () => {
    const w = await openWebView(sys.webView.url, 'document')
    await w.page.evaluate((aud) => window.frame.getToken({ audience: aud }), sys.apis.orders.url)
    expect(w.host.connected).toBe(true)
    const sent = w.posted.length
    await w.page.goto(sys.webViewStranger.url + '/')
    expect(w.host.connected).toBe(false)
    expect(w.events.at(-1)).toEqual({
      type: 'disconnected',
      origin: sys.webView.url,
      reason: 'origin_changed',
    })
    // A token request in the old connection's name, from the new origin, gets nothing.
    w.host.onMessage({
      nativeEvent: {
        data: JSON.stringify({
          tessera: 'tessera-bridge',
          v: 1,
          type: 'token-request',
          id: 'late-request-0001',
          audience: sys.apis.orders.url,
        }),
        url: sys.webViewStranger.url + '/',
      },
    })
    expect(w.posted.length).toBe(sent)
    await w.context.close()
  })
})
