/** What a user agent string says about the device, for a "where you're signed in" list. */
export interface Device {
  /** One line for people: `Chrome 120 on macOS`, `MyApp 2.3 on iOS`, `Unknown device`. */
  description: string
  /** Browser or app and its major version: `Firefox 121`, `Safari 17`, `curl 8`. */
  browser: string | null
  /** `Windows`, `macOS`, `iOS 17.2`, `iPadOS 17.2`, `Android 14`, `ChromeOS`, `Linux`. */
  os: string | null
  type: 'desktop' | 'mobile' | 'tablet' | 'unknown'
}

/** Browsers in the order they must be tested: most specific first (Edge also says Chrome and
 * Safari; Chrome also says Safari). */
const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, 'Edge'],
  [/\bOPR\/(\d+)/, 'Opera'],
  [/\bSamsungBrowser\/(\d+)/, 'Samsung Internet'],
  [/\b(?:Firefox|FxiOS)\/(\d+)/, 'Firefox'],
  [/\bCriOS\/(\d+)/, 'Chrome'],
  [/\bChrome\/(\d+)/, 'Chrome'],
  [/\bVersion\/(\d+)(?:\.\d+)*(?: Mobile\/\w+)? Safari\//, 'Safari'],
]

/** HTTP libraries and native app stacks that name themselves first. */
const CLIENTS: readonly [RegExp, (m: RegExpExecArray) => Device][] = [
  [/^okhttp\/\d+/i, () => make('Android app', 'Android', 'mobile')],
  [
    /^Dalvik\/[\d.]+ \(Linux; U; Android (\d+(?:\.\d+)?)/,
    (m) => make('Android app', `Android ${m[1]}`, 'mobile'),
  ],
  [/^curl\/(\d+)/, (m) => make(`curl ${m[1]}`, null, 'unknown')],
  [/^python-requests\/(\d+)/, (m) => make(`Python requests ${m[1]}`, null, 'unknown')],
  [/^node(?:$|[/ ])/i, () => make('Node.js', null, 'unknown')],
]

/**
 * Parses the User-Agent a session was created with into a short description. It recognises the
 * major browsers, iOS, iPadOS, Android, Windows, macOS, ChromeOS and Linux, native apps built on
 * CFNetwork (iOS) or OkHttp (Android, React Native), and a few HTTP tools; anything else is
 * "Unknown device" with the type `unknown`. Good enough to tell devices apart in a list, not a
 * fingerprint: a user agent is whatever the client says.
 *
 * @example
 * describeDevice('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 ' +
 *   '(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36')
 * // { description: 'Chrome 120 on macOS', browser: 'Chrome 120', os: 'macOS', type: 'desktop' }
 */
export function describeDevice(userAgent: string | null): Device {
  const ua = (userAgent ?? '').slice(0, 512)
  if (ua.trim() === '') return unknown()

  // A native iOS app: "MyApp/2.3 CFNetwork/1410.0.3 Darwin/22.6.0".
  const cf = /^([A-Za-z][\w .-]{0,40}?)\/(\d+(?:\.\d+)?)[^ ]* CFNetwork\/[\d.]+ Darwin\//.exec(ua)
  if (cf) return make(`${cf[1]} ${cf[2]}`, 'iOS', 'mobile')
  for (const [re, device] of CLIENTS) {
    const m = re.exec(ua)
    if (m) return device(m)
  }

  let os: string | null = null
  let type: Device['type'] = 'unknown'
  let m: RegExpExecArray | null
  if ((m = /\biPad\b.*? OS (\d+)[_.](\d+)/.exec(ua))) {
    os = `iPadOS ${m[1]}.${m[2]}`
    type = 'tablet'
  } else if ((m = /\b(?:iPhone|iPod)\b.*? OS (\d+)[_.](\d+)/.exec(ua))) {
    os = `iOS ${m[1]}.${m[2]}`
    type = 'mobile'
  } else if ((m = /\bAndroid (\d+(?:\.\d+)?)/.exec(ua))) {
    os = `Android ${m[1]}`
    type = /\bMobile\b/.test(ua) ? 'mobile' : 'tablet'
  } else if (/\bWindows NT\b/.test(ua)) {
    os = 'Windows'
    type = 'desktop'
  } else if (/\bCrOS\b/.test(ua)) {
    os = 'ChromeOS'
    type = 'desktop'
  } else if (/\bMacintosh\b|\bMac OS X\b/.test(ua)) {
    os = 'macOS'
    type = 'desktop'
  } else if (/\bLinux\b/.test(ua)) {
    os = 'Linux'
    type = 'desktop'
  }

  let browser: string | null = null
  for (const [re, name] of BROWSERS) {
    const b = re.exec(ua)
    if (b) {
      browser = `${name} ${b[1]}`
      break
    }
  }
  if (!browser && !os) return unknown()
  return make(browser, os, type)
}

function make(browser: string | null, os: string | null, type: Device['type']): Device {
  const description =
    browser && os ? `${browser} on ${os}` : (browser ?? (os ? `${os} device` : 'Unknown device'))
  return { description, browser, os, type }
}

function unknown(): Device {
  return { description: 'Unknown device', browser: null, os: null, type: 'unknown' }
}
