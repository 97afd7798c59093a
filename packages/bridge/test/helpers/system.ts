import type { Browser, BrowserContext, Frame, Page } from 'playwright-core'
import { startTestServer, type TestServer } from '../../../server/test/helpers/test-server.js'
import { VerifiedApi } from './apis.js'
import { Site } from './site.js'

/**
 * The test user (as the server's hosted sign-in helpers name it; not imported from there, since
 * those load vitest and this file also serves the bench).
 */
export const ALICE = { username: 'alice', password: 'correct horse battery' }

/**
 * The whole system on loopback: a real Tessera server, three APIs verifying with
 * `@tessera/verify` (orders, billing, analytics), a shell on `127.0.0.1:<port>`, three micro
 * frontends on `localhost:<port>` (one per API, registered in the shell for that API only) and a
 * page on an origin the shell does not know. Shell and frames are on different sites, so the
 * frames are third-party contexts.
 */
export class System {
  t!: TestServer
  readonly apis = {
    orders: new VerifiedApi('orders'),
    billing: new VerifiedApi('billing'),
    analytics: new VerifiedApi('analytics'),
  }
  readonly shell = new Site('shell-page.ts', '127.0.0.1')
  readonly frames = {
    orders: new Site('frame-page.ts'),
    billing: new Site('frame-page.ts'),
    analytics: new Site('frame-page.ts'),
  }
  readonly stranger = new Site('frame-page.ts')
  /** An orders micro frontend written in React, reading the session with `useFrameAuth`. */
  readonly reactFrame = new Site('react-frame-page.tsx')
  /** The orders micro frontend as a page of a React Native WebView. */
  readonly webView = new Site('frame-page.ts')
  /** A page on an origin the WebView host does not know, itself a WebView page. */
  readonly webViewStranger = new Site('frame-page.ts')

  async start(): Promise<void> {
    const box: { t?: TestServer } = {}
    for (const api of Object.values(this.apis))
      await api.start(
        () => box.t!.url,
        () => box.t!.clock.now(),
      )
    const shellUrl = await this.shell.start()
    for (const f of [
      ...Object.values(this.frames),
      this.stranger,
      this.webView,
      this.webViewStranger,
      this.reactFrame,
    ])
      await f.start()
    const audiences = Object.values(this.apis).map((a) => a.url)
    this.t = await startTestServer({
      apis: Object.values(this.apis).map((a) => ({
        audience: a.url,
        name: a.name,
        scopes: [`${a.name}:read`],
        accessTokenTtlSeconds: 300,
      })),
      clients: [
        {
          id: 'shell-app',
          redirectUris: [shellUrl + '/callback'],
          audiences,
          scopes: [
            'openid',
            'profile',
            'email',
            'offline_access',
            ...Object.keys(this.apis).map((n) => `${n}:read`),
          ],
        },
        {
          id: 'native-shell',
          applicationType: 'native',
          redirectUris: [NATIVE_SHELL_REDIRECT],
          audiences,
          scopes: ['openid', 'profile', 'email', 'offline_access'],
        },
      ],
    })
    box.t = this.t
    this.t.clock.set(Date.now())
    await this.t.createUser(ALICE.username, ALICE.password)
    const apiList = Object.values(this.apis).map((a) => ({ baseUrl: a.url, audience: a.url }))
    this.shell.config = {
      issuer: this.t.url,
      clientId: 'shell-app',
      apis: apiList,
      frames: {
        ...Object.fromEntries(
          (Object.keys(this.frames) as (keyof System['frames'])[]).map((n) => [
            this.frames[n].url,
            { audiences: [this.apis[n].url] },
          ]),
        ),
        [this.reactFrame.url]: { audiences: [this.apis.orders.url] },
      },
    }
    for (const n of Object.keys(this.frames) as (keyof System['frames'])[]) {
      this.frames[n].config = {
        shellOrigin: shellUrl,
        apis: [{ baseUrl: this.apis[n].url, audience: this.apis[n].url }],
      }
    }
    const webViewConfig = {
      webView: true,
      apis: [{ baseUrl: this.apis.orders.url, audience: this.apis.orders.url }],
      handshakeTimeoutMs: 1500,
    }
    this.webView.config = webViewConfig
    this.webViewStranger.config = webViewConfig
    this.reactFrame.config = {
      shellOrigin: shellUrl,
      api: this.apis.orders.url,
    }
    this.stranger.config = {
      shellOrigin: shellUrl,
      apis: [{ baseUrl: this.apis.orders.url, audience: this.apis.orders.url }],
      handshakeTimeoutMs: 1500,
    }
  }

  async close(): Promise<void> {
    await this.t?.close()
    for (const s of [
      this.shell,
      ...Object.values(this.frames),
      this.stranger,
      this.webView,
      this.webViewStranger,
      this.reactFrame,
    ])
      await s.close()
    for (const a of Object.values(this.apis)) await a.close()
  }

  /** Opens the shell in a new page of `context` and signs ALICE in through the hosted form. */
  async signedInShell(context: BrowserContext): Promise<Page> {
    const page = await context.newPage()
    await page.goto(this.shell.url + '/')
    await page.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
    await page.evaluate(() => {
      void window.tessera.signIn({ returnTo: '/' })
    })
    await page.waitForURL((u) => u.pathname === '/login')
    await page.fill('#username', ALICE.username)
    await page.fill('#password', ALICE.password)
    await Promise.all([
      page.waitForURL((u) => u.origin === this.shell.url && u.pathname === '/callback'),
      page.click('button[type=submit]'),
    ])
    const cb = await page.evaluate(() => window.__callback)
    if (cb !== 'ok') throw new Error(`sign-in failed: ${cb}`)
    return page
  }

  /** Adds an iframe of `site` to the shell page and returns it once its frame client is there. */
  async addFrame(shell: Page, site: Site, name: string): Promise<Frame> {
    await shell.evaluate(([src, n]) => window.addFrame(src!, n!), [site.url + '/', name])
    const frame = shell.frame({ name })
    if (!frame) throw new Error(`no frame ${name}`)
    await frame.waitForFunction(() => window.frame !== undefined)
    return frame
  }

  /** Refresh requests (grant_type=refresh_token) the browser sent to Tessera in `context`. */
  countRefreshes(context: BrowserContext): { resources: string[] } {
    const seen = { resources: [] as string[] }
    context.on('request', (req) => {
      if (req.method() === 'POST' && req.url() === this.t.url + '/oauth/token') {
        const body = new URLSearchParams(req.postData() ?? '')
        if (body.get('grant_type') === 'refresh_token')
          seen.resources.push(body.get('resource') ?? '')
      }
    })
    return seen
  }
}

export type { Browser }

/** The redirect URI of the native shell (a React Native app hosting WebViews). */
export const NATIVE_SHELL_REDIRECT = 'com.example.shell:/callback'

/** The JSON payload of a JWT (no verification: the APIs verify). */
export function payloadOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'))
}
