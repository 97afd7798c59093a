/**
 * `useFrameAuth` in Chromium: a micro frontend written in React (`react-frame-page.tsx`) in the
 * real shell (`shell-page.ts`, a real TesseraClient and shell bridge), against a real Tessera
 * server and the orders API verifying with @tessera/verify. A second tab of the shell signs in
 * through the hosted form; the first tab's client learns it over the tabs' BroadcastChannel and
 * pushes it to its frame, which re-renders live.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from '../helpers/chromium.js'
import { payloadOf, System } from '../helpers/system.js'

declare global {
  interface Window {
    /** Set by react-frame-page.tsx (a .tsx file the bench's project does not include). */
    __renders: string[]
  }
}

let sys: System
let browser: Browser

beforeAll(async () => {
  sys = new System()
  await sys.start()
  browser = await launchChromium()
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await sys?.close()
})

describe('Chromium: useFrameAuth in a React micro frontend', () => {
  it('FRM-03 the frame shows signed out, then the user and its API answer after sign-in, then signed out again within one second of sign-out', async () => {
    const context = await browser.newContext()
    const shell = await context.newPage()
    await shell.goto(sys.shell.url + '/')
    await shell.evaluate(() => localStorage.setItem('tessera-test-tab-sync', '1'))
    await shell.reload()
    await shell.waitForFunction(() => window.tessera?.getSnapshot().isLoaded)
    const frame = await sys.addFrame(shell, sys.reactFrame, 'orders-react')
    await frame.waitForSelector('#state:text-is("signed out")')
    expect(await frame.textContent('#status')).toBe('signed-out')
    expect(await frame.textContent('#answer')).toBe('')
    // Nothing was rendered as signed in or signed out before the shell answered.
    const before = await frame.evaluate(() => window.__renders)
    expect(before[0]).toBe('loading|loading|false|user 0|')
    expect(before.at(-1)).toBe('signed out|signed-out|false|user 0|')

    // The shell signs in (in its other tab); this frame was never reloaded.
    await sys.signedInShell(context)
    await frame.waitForSelector('#state:text-is("signed in as alice")')
    await frame.waitForSelector('#answer:not(:empty)')
    const answer = (await frame.textContent('#answer'))!
    expect(answer.startsWith('200 ')).toBe(true)
    const body = JSON.parse(answer.slice(4)) as { api: string; sub: string; aud: string }
    const token = sys.apis.orders.authorizations.at(-1)!.replace(/^Bearer /, '')
    expect(body).toEqual({ api: 'orders', sub: payloadOf(token).sub, aud: sys.apis.orders.url })
    expect(payloadOf(token).aud).toBe(sys.apis.orders.url)

    // A token refresh in the shell (its clock moved past the token's expiry) reaches the frame
    // as a new snapshot (new ID token, new lastActiveAt) but changes nothing the hook returns.
    const renders = (await frame.evaluate(() => window.__renders)).length
    const lastActive = await frame.evaluate(() => window.frame.getSnapshot().lastActiveAt)
    await shell.evaluate(async (aud) => {
      window.__shift = 10 * 60_000
      await window.tessera.getToken({ audience: aud })
    }, sys.apis.orders.url)
    await frame.waitForFunction(
      (t) =>
        window.frame.getSnapshot().lastActiveAt !== t &&
        window.frame.getSnapshot().status === 'signed-in',
      lastActive,
    )
    await frame.waitForFunction(() => window.__renders.at(-1)!.includes('|signed-in|'))
    const after = (await frame.evaluate(() => window.__renders)).slice(renders)
    // Only the status may move (signed-in, refreshing, signed-in); never the user (the very same
    // object as before the refresh) or the answer.
    expect((await frame.evaluate(() => window.__renders)).at(renders - 1)).toContain('|user 1|200 ')
    for (const r of after)
      expect(r).toMatch(/^signed in as alice\|(signed-in|refreshing)\|false\|user 1\|200 /)

    // Sign-out in the shell: the frame re-renders signed out within one second.
    await shell.evaluate(() => window.tessera.signOut({ navigate: false }))
    await frame.waitForSelector('#state:text-is("signed out")', { timeout: 1000 })
    expect(await frame.textContent('#answer')).toBe('')
    expect(await frame.textContent('#status')).toBe('signed-out')
    await context.close()
  })
})
