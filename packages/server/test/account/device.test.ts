import { describe, expect, it } from 'vitest'
import { describeDevice, type Device } from '../../src/account/device.js'

const d = (
  description: string,
  browser: string | null,
  os: string | null,
  type: Device['type'],
) => ({
  description,
  browser,
  os,
  type,
})

describe('describeDevice: a user agent as a line in "where you are signed in"', () => {
  it.each<[string, string | null, Device]>([
    [
      'Chrome on macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      d('Chrome 120 on macOS', 'Chrome 120', 'macOS', 'desktop'),
    ],
    [
      'Safari on macOS',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15',
      d('Safari 17 on macOS', 'Safari 17', 'macOS', 'desktop'),
    ],
    [
      'Edge on Windows (says Chrome and Safari too)',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
      d('Edge 120 on Windows', 'Edge 120', 'Windows', 'desktop'),
    ],
    [
      'Firefox on Linux',
      'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
      d('Firefox 121 on Linux', 'Firefox 121', 'Linux', 'desktop'),
    ],
    [
      'Opera on Windows',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0',
      d('Opera 105 on Windows', 'Opera 105', 'Windows', 'desktop'),
    ],
    [
      'Safari on iPhone',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
      d('Safari 17 on iOS 17.2', 'Safari 17', 'iOS 17.2', 'mobile'),
    ],
    [
      'Chrome on iPhone (CriOS)',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1',
      d('Chrome 120 on iOS 17.2', 'Chrome 120', 'iOS 17.2', 'mobile'),
    ],
    [
      'Safari on iPad',
      'Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
      d('Safari 16 on iPadOS 16.6', 'Safari 16', 'iPadOS 16.6', 'tablet'),
    ],
    [
      'Chrome on an Android phone',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36',
      d('Chrome 120 on Android 14', 'Chrome 120', 'Android 14', 'mobile'),
    ],
    [
      'Samsung Internet on an Android tablet',
      'Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Safari/537.36',
      d('Samsung Internet 23 on Android 13', 'Samsung Internet 23', 'Android 13', 'tablet'),
    ],
    [
      'Chrome on ChromeOS',
      'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
      d('Chrome 120 on ChromeOS', 'Chrome 120', 'ChromeOS', 'desktop'),
    ],
    [
      'a native iOS app (CFNetwork)',
      'Orders/2.3.1 CFNetwork/1410.0.3 Darwin/22.6.0',
      d('Orders 2.3 on iOS', 'Orders 2.3', 'iOS', 'mobile'),
    ],
    [
      'a React Native Android app (OkHttp)',
      'okhttp/4.12.0',
      d('Android app on Android', 'Android app', 'Android', 'mobile'),
    ],
    [
      'an Android app (Dalvik)',
      'Dalvik/2.1.0 (Linux; U; Android 13; Pixel 7 Build/TQ3A.230901.001)',
      d('Android app on Android 13', 'Android app', 'Android 13', 'mobile'),
    ],
    ['curl', 'curl/8.4.0', d('curl 8', 'curl 8', null, 'unknown')],
    ['Node.js fetch', 'node', d('Node.js', 'Node.js', null, 'unknown')],
    ['no user agent', null, d('Unknown device', null, null, 'unknown')],
    ['an empty one', '  ', d('Unknown device', null, null, 'unknown')],
    [
      'something else',
      'Mozilla/5.0 (compatible; MSIE 6.0)',
      d('Unknown device', null, null, 'unknown'),
    ],
    [
      'an OS alone',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Something/1',
      d('Windows device', null, 'Windows', 'desktop'),
    ],
  ])('%s', (_name, ua, expected) => {
    expect(describeDevice(ua)).toStrictEqual(expected)
  })
})
