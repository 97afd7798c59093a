/**
 * `@tessera/react-native/webview`: a WebView that hands audience-scoped tokens to the page it
 * shows, over the bridge protocol of `@tessera/bridge`. The refresh token stays in the app; the
 * page (built with `createFrameClient({ shell: 'react-native-webview' })`) asks for an access
 * token per API and gets only those its origin is registered for.
 *
 * A subpath of its own, so an app without WebViews bundles none of it (Metro does not tree-shake).
 *
 * @example
 * import { WebView } from 'react-native-webview'
 * import { TesseraWebView } from '@tessera/react-native/webview'
 *
 * <TesseraWebView
 *   WebView={WebView}
 *   source={{ uri: 'https://orders.example.com/' }}
 *   frames={{ 'https://orders.example.com': { audiences: ['https://orders-api.example.com'] } }}
 * />
 */
import {
  createElement,
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ComponentProps,
  type ComponentType,
} from 'react'
import { createWebViewHost, type WebViewHost } from '@tessera/bridge/webview-host'
import type { BridgeEvent, FrameRegistry, ShellSession } from '@tessera/bridge/webview-host'
import { useProvidedClient } from '@tessera/react'

export type { BridgeEvent, FrameRegistry } from '@tessera/bridge/webview-host'

/** What the bridge calls on the WebView's ref: react-native-webview's `postMessage`. */
export interface WebViewHandle {
  postMessage(data: string): void
}

/** The parts of react-native-webview's events the bridge reads. */
export interface WebViewUrlEvent {
  nativeEvent: { url: string }
}
export interface WebViewDataEvent {
  nativeEvent: { url: string; data: string }
}

export interface WebViewBridgeOptions {
  /** Which page origins may connect, and which audiences (and scopes) each may ask for. */
  frames: FrameRegistry
  /** The client holding the session; by default the one of the surrounding `TesseraProvider`. */
  client?: ShellSession
  /** Receives the bridge's events (connected, token given, refused, ignored ...). No tokens. */
  onEvent?: (event: BridgeEvent) => void
}

/** Props to spread on a react-native-webview `WebView`. */
export interface WebViewBridgeProps {
  /** A callback ref: it takes the WebView instance (anything with `postMessage`). */
  ref: (instance: WebViewHandle | null) => void
  onMessage: (event: WebViewDataEvent) => void
  onLoadStart: (event: WebViewUrlEvent) => void
  onNavigationStateChange: (navigation: { url: string }) => void
  /**
   * The registered origins: react-native-webview opens any other origin in the system browser
   * instead of loading it here. (Its match is a prefix; the bridge itself compares origins
   * exactly, so a look-alike origin that loads still gets no connection.)
   */
  originWhitelist: string[]
}

export interface WebViewBridge {
  /** Spread on the `WebView`. */
  webViewProps: WebViewBridgeProps
  /** Whether the page has completed the handshake. */
  connected: boolean
}

/**
 * The bridge for one WebView: a host built when mounted (and again when the registry's content
 * or the client changes), closed when unmounted. Handlers keep their identity across renders.
 */
export function useWebViewBridge(o: WebViewBridgeOptions): WebViewBridge {
  const fromProvider = useProvidedClient()
  const client = o.client ?? fromProvider
  if (!client) {
    throw new TypeError(
      'useWebViewBridge: pass `client`, or render inside a <TesseraProvider> from @tessera/react-native',
    )
  }
  // By content: an inline `frames={{ ... }}` (a new object each render) keeps the same host.
  const registry = JSON.stringify(o.frames) ?? ''
  const handle = useRef<WebViewHandle | null>(null)
  const onEvent = useRef(o.onEvent)
  onEvent.current = o.onEvent
  const [connected, setConnected] = useState(false)
  const hostRef = useRef<WebViewHost | null>(null)
  // The URL seen before the host exists (the first onLoadStart can precede the effect).
  const lastUrl = useRef<string | undefined>(undefined)

  // The registry is checked while rendering (a host built and closed at once: it subscribes to
  // nothing until a page connects), so a mistake fails where it is written.
  const frames = useMemo(() => {
    const parsed = (registry === '' ? o.frames : JSON.parse(registry)) as FrameRegistry
    createWebViewHost({ client, frames: parsed, postMessage: () => {} }).close()
    return parsed
  }, [client, registry])

  useEffect(() => {
    const host = createWebViewHost({
      client,
      frames,
      postMessage: (data) => handle.current?.postMessage(data),
      onEvent: (event) => {
        if (event.type === 'connected') setConnected(true)
        if (event.type === 'disconnected') setConnected(false)
        onEvent.current?.(event)
      },
    })
    if (lastUrl.current !== undefined) host.onNavigation(lastUrl.current)
    hostRef.current = host
    return () => {
      hostRef.current = null
      host.close()
      setConnected(false)
    }
  }, [client, frames])

  const navigated = useCallback((url: unknown) => {
    if (typeof url !== 'string') return
    lastUrl.current = url
    hostRef.current?.onNavigation(url)
  }, [])
  const onMessage = useCallback((event: WebViewDataEvent) => {
    hostRef.current?.onMessage(event)
  }, [])
  const onLoadStart = useCallback(
    (e: WebViewUrlEvent) => navigated(e?.nativeEvent?.url),
    [navigated],
  )
  const onNavigationStateChange = useCallback(
    (n: { url: string }) => navigated(n?.url),
    [navigated],
  )
  const originWhitelist = useMemo(() => Object.keys(frames), [frames])

  const ref = useCallback((instance: WebViewHandle | null) => {
    handle.current = instance
  }, [])
  const webViewProps = useMemo(
    () => ({ ref, onMessage, onLoadStart, onNavigationStateChange, originWhitelist }),
    [ref, onMessage, onLoadStart, onNavigationStateChange, originWhitelist],
  )
  return { webViewProps, connected }
}

/** The props a WebView component must accept for {@link TesseraWebView}. */
export interface BridgedWebViewProps {
  onMessage?: (event: WebViewDataEvent) => void
  onLoadStart?: (event: WebViewUrlEvent) => void
  onNavigationStateChange?: (navigation: { url: string }) => void
  originWhitelist?: string[]
}

/** Whether a component with props `P` takes the bridge's handlers (a WebView does). */
type AcceptsBridge<P> = keyof BridgedWebViewProps extends keyof P
  ? Required<BridgedWebViewProps> extends Pick<P, keyof BridgedWebViewProps>
    ? true
    : false
  : false

/** The `WebView`'s own props (typed from the component passed) and the bridge's options. */
// `any`: React's own bound for "some component" (ComponentProps requires it; a class component such
// as react-native-webview's WebView is not a ComponentType<never>).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TesseraWebViewProps<W extends ComponentType<any>> = WebViewBridgeOptions &
  Omit<ComponentProps<W>, 'ref'> & {
    /** react-native-webview's `WebView` (passed in: this package imports no native module). */
    WebView: W
  }

/**
 * react-native-webview's `WebView` with the bridge wired in. Other props go to the `WebView`
 * unchanged; `onMessage`, `onLoadStart` and `onNavigationStateChange` given here are called
 * after the bridge's own. `originWhitelist` defaults to the registered origins.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as for TesseraWebViewProps
export function TesseraWebView<W extends ComponentType<any>>(
  props: TesseraWebViewProps<W> &
    (AcceptsBridge<ComponentProps<W>> extends true ? unknown : { WebView: never }),
): ReturnType<typeof createElement> {
  const { WebView, frames, client, onEvent, ...rest } = props
  const own = rest as BridgedWebViewProps & Record<string, unknown>
  const { webViewProps } = useWebViewBridge({
    frames,
    ...(client !== undefined ? { client } : {}),
    ...(onEvent !== undefined ? { onEvent } : {}),
  })
  return createElement(WebView as ComponentType<Record<string, unknown>>, {
    ...own,
    ref: webViewProps.ref,
    originWhitelist: own.originWhitelist ?? webViewProps.originWhitelist,
    onMessage: (e: WebViewDataEvent) => {
      webViewProps.onMessage(e)
      own.onMessage?.(e)
    },
    onLoadStart: (e: WebViewUrlEvent) => {
      webViewProps.onLoadStart(e)
      own.onLoadStart?.(e)
    },
    onNavigationStateChange: (n: { url: string }) => {
      webViewProps.onNavigationStateChange(n)
      own.onNavigationStateChange?.(n)
    },
  })
}
