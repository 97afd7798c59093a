import type { Page } from 'playwright-core'
import { expect } from 'vitest'
import { ALICE } from '../../../server/test/interop/hosted-sign-in.js'

/**
 * Signs ALICE in through the hosted form in `page` (an app page of `appOrigin` that loaded the
 * harness): the client's redirect, the form, the callback; asserts the page ends signed in.
 */
export async function signInInTab(page: Page, appOrigin: string): Promise<void> {
  await page.evaluate(() => {
    void window.tessera.signIn({ returnTo: '/' })
  })
  await page.waitForURL((u) => u.pathname === '/login')
  await page.fill('#username', ALICE.username)
  await page.fill('#password', ALICE.password)
  await Promise.all([
    page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/callback'),
    page.click('button[type=submit]'),
  ])
  expect(await page.evaluate(() => window.__callback)).toBe('ok')
  expect(await page.evaluate(() => window.tessera.getSnapshot().status)).toBe('signed-in')
}
