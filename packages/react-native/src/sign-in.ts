import type { CallbackResult, SignInOptions, TesseraClient } from '@tessera/client'
import { TesseraNativeError } from './errors.js'
import { timers } from './timers.js'

/** The result of an auth session: expo-web-browser's `WebBrowserAuthSessionResult`. */
export type AuthSessionResultLike = { type: string; url?: string }

/**
 * Opens the system browser for a sign-in and resolves with the redirect: `expo-web-browser`
 * (`import * as WebBrowser from 'expo-web-browser'` satisfies it: ASWebAuthenticationSession on
 * iOS, a Custom Tab on Android), or any module with the same call.
 */
export interface AuthSessionOpener {
  openAuthSessionAsync(
    url: string,
    redirectUrl?: string | null,
    options?: Record<string, unknown>,
  ): Promise<AuthSessionResultLike>
}

/** React Native's `Linking` (or `expo-linking`): deep links that reach the app. */
export interface LinkingModule {
  addEventListener(type: 'url', handler: (event: { url: string }) => void): { remove(): void }
}

export interface BrowserSignInOptions extends Omit<SignInOptions, 'navigate'> {
  browser: AuthSessionOpener
  /** Where a redirect may arrive instead of the browser's result (Android after `dismiss`, or
   * an app link). Recommended. */
  linking?: LinkingModule
  /** How long to wait for the redirect through `linking` after the browser said `dismiss` or
   * `cancel`. Default 2000 ms. */
  linkingGraceMs?: number
  /** Passed to `openAuthSessionAsync`, over the defaults below. */
  browserOptions?: Record<string, unknown>
  /** Let the browser's sign-in session at the server sign the user in without asking (SSO).
   * Default false (APP-12: after a sign-out, the next sign-in asks again): the request carries
   * `prompt=login` (unless `prompt` is given) and the iOS session is ephemeral
   * (`preferEphemeralSession: true`: no cookies shared with Safari). */
  reuseBrowserSession?: boolean
}

/**
 * Signs in through the system browser (RFC 8252): the client builds the authorization request
 * (PKCE S256, `state`, `nonce`, every API as `resource`), the browser opens it, and the redirect
 * to the app's private-use scheme (`com.example.app:/callback`) comes back as the browser's
 * `success` result, or through `Linking` when the browser reported `dismiss` first. The client
 * then checks `state` (one use), `iss` (RFC 9207) and the ID token, and redeems the code once,
 * even if the redirect arrives both ways.
 *
 * Rejects with `sign_in_cancelled` (`reason` the browser's result type) when the user closed the
 * browser and no redirect came; with the client's errors (`state_mismatch`, `iss_mismatch`,
 * `authorization_failed`, ...) otherwise.
 *
 * @example
 * import * as WebBrowser from 'expo-web-browser'
 * import { Linking } from 'react-native'
 * await signInWithBrowser(client, { browser: WebBrowser, linking: Linking, returnTo: '/home' })
 */
export async function signInWithBrowser(
  client: TesseraClient,
  o: BrowserSignInOptions,
): Promise<CallbackResult> {
  const {
    browser,
    linking,
    linkingGraceMs = 2000,
    browserOptions,
    reuseBrowserSession = false,
    ...signIn
  } = o
  if (!reuseBrowserSession && signIn.prompt === undefined) signIn.prompt = 'login'
  const openOptions = reuseBrowserSession
    ? browserOptions
    : { preferEphemeralSession: true, ...browserOptions }
  let linked: string | undefined
  let wake: (() => void) | undefined
  const sub = linking?.addEventListener('url', ({ url }) => {
    if (linked === undefined && client.isRedirectCallback(url)) {
      linked = url
      wake?.()
    }
  })
  try {
    const url = await client.signIn({ ...signIn, navigate: false })
    const redirect = redirectUriOf(url)
    const result = await browser.openAuthSessionAsync(url.href, redirect, openOptions)
    let callback = result.type === 'success' && result.url ? result.url : linked
    if (callback === undefined && linking) {
      await new Promise<void>((resolve) => {
        const t = timers.setTimeout(resolve, linkingGraceMs)
        wake = () => {
          timers.clearTimeout(t)
          resolve()
        }
      })
      callback = linked
    }
    if (callback === undefined) {
      throw new TesseraNativeError('sign_in_cancelled', `the sign-in was not completed`, {
        reason: result.type,
      })
    }
    return await client.handleRedirectCallback(callback)
  } finally {
    sub?.remove()
  }
}

function redirectUriOf(url: URL): string | null {
  return url.searchParams.get('redirect_uri')
}
