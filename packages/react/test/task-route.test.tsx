// @vitest-environment tessera-dom
/**
 * The guard's `taskRoutes` with the real claim: a Tessera client that requires MFA signs a user
 * without an authenticator in, the server makes the session `pending` with `tessera_task:
 * setup-mfa`, and `<Protect>` sends the app to the task's route instead of rendering the content
 * or going to sign-in. After the user enrols on the hosted page and the client refreshes, the
 * content renders.
 */
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { memoryStorage, type TesseraClient } from '@tessera/client'
import {
  browserFetch,
  CookieJar,
  isLoginRedirect,
  openLogin,
  submitLogin,
} from '../../server/test/helpers/oauth-flow.js'
import { enrolTotp } from '../../server/test/mfa/mfa-helpers.js'
import {
  ALICE,
  API_A,
  clientFor,
  startTessera,
  type Tessera,
} from '../../client/test/helpers/tessera.js'
import { Protect, TesseraProvider } from '../src/index.js'

let s: Tessera
const clients: TesseraClient[] = []
beforeAll(async () => {
  s = await startTessera({ client: { requireMfa: true } })
})
afterEach(() => {
  cleanup()
  for (const c of clients.splice(0)) c.dispose()
})
afterAll(async () => {
  await s.close()
})

describe('session tasks in the route guard', () => {
  it('a pending session (tessera_task setup-mfa) goes to taskRoutes["setup-mfa"], once; after enrolment the content renders', async () => {
    const storage = memoryStorage()
    const { client } = clientFor(s, { storage })
    clients.push(client)
    const jar = new CookieJar()
    let res = await browserFetch(jar, (await client.signIn()).href)
    if (isLoginRedirect(s.t, res)) {
      const login = await openLogin(s.t, res, jar)
      res = await submitLogin(s.t, login.fields, jar, ALICE.username, ALICE.password)
    }
    await client.handleRedirectCallback(new URL(res.headers.get('location') ?? ''))

    const routes: string[] = []
    render(
      <TesseraProvider client={client}>
        <Protect
          fallback={<p>splash</p>}
          navigate={(to) => routes.push(to)}
          signInRoute="/sign-in"
          taskRoutes={{ 'setup-mfa': '/tasks/mfa' }}
        >
          <p>orders</p>
        </Protect>
      </TesseraProvider>,
    )
    await act(async () => {
      await client.whenLoaded()
      await new Promise((r) => setTimeout(r, 0))
    })
    expect(routes).toEqual(['/tasks/mfa'])
    expect(screen.queryByText('orders')).toBeNull()

    await enrolTotp(s.t, jar)
    await act(async () => {
      await client.getToken({ audience: API_A })
    })
    expect(client.getSnapshot().currentTask).toBeNull()
    expect(screen.getByText('orders')).toBeTruthy()
    expect(routes).toEqual(['/tasks/mfa'])
  })
})
