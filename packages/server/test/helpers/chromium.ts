import { chromium, type Browser } from 'playwright-core'

/**
 * Debian's Chromium, headless, as every browser test here runs it (.ci/run installs it; a browser
 * playwright would download is not reachable from this machine).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}
