import { afterAll, describe, expect, it, vi } from 'vitest'
import { ACCOUNT_PATHS } from '../../src/accounts/account-services.js'
import { DEMO_CLIENT_ID, PLAYGROUND_CALLBACK_PATH } from '../../src/dev/demo.js'
import { CliProcess, cleanEnv, tempDir } from '../cli/cli-process.js'
import {
  authorizationParams,
  browserFetch,
  CookieJar,
  formFields,
  openLogin,
  startAuthorize,
} from '../helpers/oauth-flow.js'
import type { TestServer } from '../helpers/test-server.js'

// Child processes start slowly on a small, busy machine (tsx compiles the sources first).
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 })

const tmp = tempDir()
afterAll(() => tmp.remove())

describe('/dev/mail through the real commands', () => {
  it('tessera dev, without SMTP: sign-up from the sign-in page, the mail at /dev/mail, its link verifies', async () => {
    const p = new CliProcess(['dev', '--port', '0'], { cwd: tmp.dir })
    try {
      const url = await p.url()
      const t = { url } as TestServer
      const jar = new CookieJar()
      const a = authorizationParams({
        clientId: DEMO_CLIENT_ID,
        redirectUri: url + PLAYGROUND_CALLBACK_PATH,
        scope: 'openid email',
      })
      const login = await openLogin(t, await startAuthorize(t, a.params, jar), jar)
      const signUpUrl = /href="([^"]*\/signup\?tx=[^"]*)"/.exec(login.html)?.[1] as string
      expect(signUpUrl).toBeDefined()
      const page = await browserFetch(jar, signUpUrl.replace(/&amp;/g, '&'))
      const done = await browserFetch(jar, url + ACCOUNT_PATHS.signUp, {
        form: {
          ...formFields(await page.text()),
          email: 'newcomer@example.test',
          password: 'first steps in dev',
        },
      })
      expect(done.status).toBe(303)
      expect(done.headers.get('location')).toContain(url + PLAYGROUND_CALLBACK_PATH)
      let html = ''
      for (let i = 0; i < 50 && !html.includes('/verify-email?t='); i++) {
        html = await (await fetch(url + ACCOUNT_PATHS.devMail)).text()
        if (!html.includes('/verify-email?t=')) await new Promise((r) => setTimeout(r, 100))
      }
      expect(html).toContain('newcomer@example.test')
      const link = /href="([^"]*\/verify-email\?t=[^"]*)"/.exec(html)?.[1] as string
      const verified = await fetch(link)
      expect(verified.status).toBe(200)
      expect(await verified.text()).toContain('newcomer@example.test is verified')
    } finally {
      await p.stop()
    }
  })

  it('tessera start never has /dev/mail, and without SMTP offers no reset', async () => {
    const p = new CliProcess(['start', '--port', '0'], {
      cwd: tmp.dir,
      env: cleanEnv({
        TESSERA_ISSUER: 'http://127.0.0.1:4000',
        TESSERA_SECRET: 'dev-mail-cli-secret-dev-mail-cli-secret-0123456789',
        TESSERA_SQLITE_FILE: `${tmp.dir}/start.db`,
      }),
    })
    try {
      const url = await p.url()
      expect((await fetch(url + ACCOUNT_PATHS.devMail)).status).toBe(404)
      expect((await fetch(url + ACCOUNT_PATHS.forgotPassword)).status).toBe(404)
    } finally {
      await p.stop()
    }
  })
})
