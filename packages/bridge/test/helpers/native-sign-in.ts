import type { TestServer } from '../../../server/test/helpers/test-server.js'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../../server/test/helpers/oauth-flow.js'
import { ALICE } from './system.js'

/** Follows an authorization URL through the hosted sign-in form over HTTP, as ALICE. */
export async function followSignIn(t: TestServer, url: URL): Promise<URL> {
  const jar = new CookieJar()
  let res = await browserFetch(jar, url.href)
  if (isLoginRedirect(t, res)) {
    const login = await openLogin(t, res, jar)
    res = await submitLogin(t, login.fields, jar, ALICE.username, ALICE.password)
  }
  const location = res.headers.get('location')
  if (res.status !== 303 || !location)
    throw new Error(`sign-in ended with ${res.status} ${(await res.text()).slice(-300)}`)
  return new URL(location)
}
