/**
 * `TesseraWebView` / `useWebViewBridge` under React Native's Jest preset: a signed-in app (real
 * server in a child process, real client) hands tokens to the page of a WebView stand-in that
 * behaves like react-native-webview (a ref with `postMessage`, `onMessage` / `onLoadStart` /
 * `onNavigationStateChange` events carrying the page URL). The page's side is played by hand with
 * the bridge protocol's JSON messages, as `createFrameClient({ shell: 'react-native-webview' })`
 * sends them.
 */
import { act, render } from '@testing-library/react-native'
import { useImperativeHandle, type Ref } from 'react'
import { View } from 'react-native'
import { createTesseraClient, memoryStorage, type TesseraClient } from '@tessera/client'
import { hermesCrypto, signInWithBrowser, TesseraProvider } from '../src/index.js'
import {
  TesseraWebView,
  useWebViewBridge,
  type BridgeEvent,
  type WebViewBridgeOptions,
  type WebViewDataEvent,
  type WebViewHandle,
  type WebViewUrlEvent,
} from '../src/webview.js'
import { fakeExpoCrypto, startTesseraProcess, type TesseraProcess } from './helpers/tessera.js'

const ORDERS = 'https://orders.example.com'
const PAGE = ORDERS + '/checkout'
let server: TesseraProcess
let client: TesseraClient

beforeAll(async () => {
  server = await startTesseraProcess()
  client = createTesseraClient({
    issuer: server.issuer,
    clientId: 'native-app',
    redirectUri: 'com.example.app:/callback',
    apis: [{ baseUrl: server.api, audience: server.api, scope: 'orders' }],
    storage: memoryStorage(),
    crypto: hermesCrypto(fakeExpoCrypto),
  })
  await client.whenLoaded()
  await signInWithBrowser(client, {
    browser: {
      openAuthSessionAsync: async (url: string) => ({
        type: 'success',
        url: await server.follow(new URL(url)),
      }),
    },
  })
}, 60_000)
afterAll(async () => {
  client.dispose()
  await server.close()
})

interface StandInProps {
  ref?: Ref<WebViewHandle>
  source: { uri: string }
  onMessage?: (event: WebViewDataEvent) => void
  onLoadStart?: (event: WebViewUrlEvent) => void
  onNavigationStateChange?: (navigation: { url: string }) => void
  originWhitelist?: string[]
  testID?: string
}

/**
 * react-native-webview's WebView as the bridge meets it: `ref.postMessage(string)` delivers to the
 * page; the page's `window.ReactNativeWebView.postMessage(string)` arrives as `onMessage` with the
 * page's current URL; navigation reports `onLoadStart` and `onNavigationStateChange`.
 * `injectJavaScript` exists and records, so a test can prove the bridge never uses it.
 */
class Page {
  url = ''
  received: Record<string, unknown>[] = []
  injected: string[] = []
  props!: StandInProps

  readonly Component = (props: StandInProps) => {
    this.props = props
    useImperativeHandle(props.ref, () => ({
      postMessage: (data: string) => this.received.push(JSON.parse(data)),
      injectJavaScript: (script: string) => this.injected.push(script),
    }))
    return <View testID={props.testID ?? 'webview'} />
  }

  navigate(url: string): void {
    this.url = url
    act(() => {
      this.props.onLoadStart?.({ nativeEvent: { url } })
      this.props.onNavigationStateChange?.({ url })
    })
  }

  send(message: Record<string, unknown>): void {
    act(() => {
      this.props.onMessage?.({
        nativeEvent: {
          url: this.url,
          data: JSON.stringify({ tessera: 'tessera-bridge', v: 1, ...message }),
        },
      })
    })
  }

  async waitFor(
    type: string,
    id: string,
  ): Promise<Record<string, unknown> & { type: string; id: string }> {
    for (let i = 0; i < 300; i++) {
      const m = this.received.find((r) => r.type === type && r.id === id)
      if (m) return m as Record<string, unknown> & { type: string; id: string }
      await act(() => new Promise((r) => setTimeout(r, 10)))
    }
    throw new Error(`no ${type} for ${id}; got ${JSON.stringify(this.received.map((r) => r.type))}`)
  }

  async settle(): Promise<void> {
    await act(() => new Promise((r) => setTimeout(r, 100)))
  }
}

function payload(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<
    string,
    unknown
  >
}

/** Renders the orders page's WebView for `client` (the orders API only); the bridge's events. */
function mountOrders(
  page: Page,
  c: NonNullable<WebViewBridgeOptions['client']> = client,
): { events: BridgeEvent[]; unmount(): void } {
  const events: BridgeEvent[] = []
  const view = render(
    <TesseraWebView
      WebView={page.Component}
      client={c}
      source={{ uri: PAGE }}
      frames={{ [ORDERS]: { audiences: [server.api] } }}
      onEvent={(e) => events.push(e)}
    />,
  )
  return { events, unmount: () => view.unmount() }
}

/** The page loads and completes the handshake. */
async function connect(page: Page, id: string): Promise<void> {
  page.navigate(PAGE)
  page.send({ type: 'hello', id })
  await page.waitFor('welcome', id)
}

describe('TesseraWebView', () => {
  it('BRG-RN-01 hands the registered page a token for its audience over postMessage, never through injected script', async () => {
    const page = new Page()
    const events: BridgeEvent[] = []
    render(
      <TesseraProvider client={client}>
        <TesseraWebView
          WebView={page.Component}
          source={{ uri: PAGE }}
          frames={{ [ORDERS]: { audiences: [server.api] } }}
          onEvent={(e) => events.push(e)}
        />
      </TesseraProvider>,
    )
    page.navigate(PAGE)
    page.send({ type: 'hello', id: 'h1-request' })
    const welcome = await page.waitFor('welcome', 'h1-request')
    expect(welcome.audiences).toEqual([server.api])
    expect((welcome.snapshot as { status: string }).status).toBe('signed-in')

    page.send({ type: 'token-request', id: 't1-request', audience: server.api })
    const token = await page.waitFor('token', 't1-request')
    expect(payload(token.token as string).aud).toBe(server.api)
    const res = await fetch(server.api + '/orders', {
      headers: { authorization: `Bearer ${token.token as string}` },
    })
    expect(res.status).toBe(200)

    expect(page.injected).toEqual([])
    expect(events.map((e) => e.type)).toEqual(['connected', 'token'])
    expect(JSON.stringify(events)).not.toContain(token.token as string)
    expect(page.props.originWhitelist).toEqual([ORDERS])
  })

  it('BRG-RN-02 least privilege: an audience the origin is not registered for is refused with a code, and nothing else leaks', async () => {
    const page = new Page()
    mountOrders(page)
    await connect(page, 'h2-request')
    page.send({
      type: 'token-request',
      id: 't2-request',
      audience: 'https://analytics-api.example.com',
    })
    const refused = await page.waitFor('error', 't2-request')
    expect(refused.code).toBe('audience_not_allowed')
    expect(page.received.some((m) => m.type === 'token')).toBe(false)
  })

  it('BRG-RN-03 a page of an unregistered or look-alike origin gets no answer at all', async () => {
    const page = new Page()
    const { events } = mountOrders(page)
    // react-native-webview's originWhitelist matches a prefix, so this page could load.
    page.navigate('https://orders.example.com.evil.test/')
    page.send({ type: 'hello', id: 'h3-request' })
    page.send({ type: 'token-request', id: 't3-request', audience: server.api })
    await page.settle()
    expect(page.received).toEqual([])
    expect(events).toContainEqual({
      type: 'ignored',
      origin: 'https://orders.example.com.evil.test',
      reason: 'origin_not_registered',
    })
  })

  it('BRG-RN-04 navigating to another origin ends the connection before anything more is sent', async () => {
    const page = new Page()
    const { events } = mountOrders(page)
    await connect(page, 'h4-request')
    page.navigate('https://elsewhere.example.net/')
    const before = page.received.length
    page.send({ type: 'token-request', id: 't4-request', audience: server.api })
    await page.settle()
    expect(page.received.length).toBe(before)
    expect(events).toContainEqual({
      type: 'disconnected',
      origin: ORDERS,
      reason: 'origin_changed',
    })
  })

  it('BRG-RN-05 unmounting closes the bridge: it stops listening to the session, and a late message from the page is not answered', async () => {
    const page = new Page()
    let listening = 0
    const counted = {
      getToken: (o: { audience?: string }) => client.getToken(o),
      getSnapshot: () => client.getSnapshot(),
      invalidateToken: (t: string) => client.invalidateToken(t),
      subscribe: (fn: () => void) => {
        listening++
        const off = client.subscribe(fn)
        return () => {
          listening--
          off()
        }
      },
    }
    const view = mountOrders(page, counted)
    await connect(page, 'h5-request')
    expect(listening).toBe(1)
    const handlers = page.props
    view.unmount()
    expect(listening).toBe(0)
    const before = page.received.length
    act(() => {
      handlers.onMessage?.({
        nativeEvent: {
          url: PAGE,
          data: JSON.stringify({
            tessera: 'tessera-bridge',
            v: 1,
            type: 'token-request',
            id: 't5-request',
            audience: server.api,
          }),
        },
      })
    })
    await page.settle()
    expect(page.received.length).toBe(before)
  })

  it('BRG-RN-06 the app’s own WebView handlers and originWhitelist still apply', async () => {
    const page = new Page()
    const seen: string[] = []
    render(
      <TesseraWebView
        WebView={page.Component}
        client={client}
        source={{ uri: PAGE }}
        frames={{ [ORDERS]: { audiences: [server.api] } }}
        originWhitelist={['https://*']}
        onLoadStart={(e) => seen.push('load:' + e.nativeEvent.url)}
        onNavigationStateChange={(n) => seen.push('nav:' + n.url)}
        onMessage={(e) => seen.push('msg:' + JSON.parse(e.nativeEvent.data).type)}
      />,
    )
    page.navigate(PAGE)
    page.send({ type: 'hello', id: 'h6-request' })
    await page.waitFor('welcome', 'h6-request')
    expect(seen).toEqual(['load:' + PAGE, 'nav:' + PAGE, 'msg:hello'])
    expect(page.props.originWhitelist).toEqual(['https://*'])
  })

  it('BRG-RN-07 without a client and outside a provider, the hook says what to pass', () => {
    function Bare() {
      useWebViewBridge({ frames: { [ORDERS]: { audiences: ['https://orders-api.example.com'] } } })
      return null
    }
    const spy = jest.spyOn(console, 'error').mockImplementation(() => {})
    expect(() => render(<Bare />)).toThrow(/pass `client`, or render inside a <TesseraProvider>/)
    spy.mockRestore()
  })

  it('BRG-RN-08 a registry that is not valid fails when rendered, naming the problem', () => {
    const page = new Page()
    const spy = jest.spyOn(console, 'error').mockImplementation(() => {})
    expect(() =>
      render(
        <TesseraWebView
          WebView={page.Component}
          client={client}
          source={{ uri: PAGE }}
          frames={{ 'https://orders.example.com/path': { audiences: [server.api] } }}
        />,
      ),
    ).toThrow(/origin/)
    spy.mockRestore()
  })
})
