/**
 * Type test: react-native-webview's real `WebView` is accepted by `TesseraWebView` as an app
 * writes it, with the WebView's own props passed through and typed, and the hook's props spread
 * onto it.
 */
import { WebView } from 'react-native-webview'
import { TesseraWebView, useWebViewBridge } from '../../src/webview.js'

const frames = { 'https://orders.example.com': { audiences: ['https://orders-api.example.com'] } }

export const element = (
  <TesseraWebView
    WebView={WebView}
    frames={frames}
    source={{ uri: 'https://orders.example.com/' }}
    javaScriptEnabled
    onMessage={(e) => void e.nativeEvent.data.length}
  />
)

// @ts-expect-error: a prop the WebView does not have is refused
export const unknownProp = <TesseraWebView WebView={WebView} frames={frames} notAProp />

export function WithHook() {
  const { webViewProps } = useWebViewBridge({ frames })
  return <WebView {...webViewProps} source={{ uri: 'https://orders.example.com/' }} />
}

const NotAWebView = (p: { n: number }) => <>{p.n}</>
// @ts-expect-error: a component that cannot take the bridge's ref and handlers is refused
export const wrong = <TesseraWebView WebView={NotAWebView} frames={frames} n={1} />
