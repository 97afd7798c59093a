import { chromium, type Browser, type BrowserContext } from 'playwright-core'

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

/**
 * A browser context whose requests to the test clients' origin (`https://app.example.test`) are
 * answered with a small page, and the console errors it logs (a CSP violation shows there).
 */
export async function contextWithClient(
  browser: Browser,
): Promise<{ context: BrowserContext; problems: string[] }> {
  const context = await browser.newContext()
  const problems: string[] = []
  context.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  await context.route('https://app.example.test/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<p id="client">client</p>' }),
  )
  return { context, problems }
}
