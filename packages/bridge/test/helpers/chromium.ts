import { chromium, type Browser } from 'playwright-core'
import { launchChromium } from '../../../server/test/helpers/chromium.js'

export { launchChromium }

/**
 * Debian's Chromium as `launchChromium` starts it, with third-party cookies blocked as Safari
 * and Brave block them (`--test-third-party-cookie-phaseout`: Chromium's own switch for the
 * blocking of third-party cookies). The FRM-05 test checks that the blocking is in effect.
 */
export function launchChromiumBlockingThirdPartyCookies(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--test-third-party-cookie-phaseout',
    ],
  })
}
