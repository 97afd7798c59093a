// A Node app as a team would write it, compiled against the installed tarballs with
// `lib: ["es2022"]` and `skipLibCheck: false` (see tsconfig.json). It signs in to a running
// `tessera dev` through the hosted sign-in form, gets a token for each demo API with
// @tessera/client, checks each with @tessera/verify, and signs out. It prints one JSON line.
import { createTesseraClient, memoryStorage, TesseraClientError } from '@tessera/client'
import { createVerifier, TesseraVerifyError } from '@tessera/verify'

const issuer = need('TESSERA_ISSUER')
const audiences = need('TESSERA_AUDIENCES').split(' ')
const username = need('TESSERA_USERNAME')
const password = need('TESSERA_PASSWORD')

function need(name: string): string {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set`)
  return v
}

/** The hosted sign-in, as a browser would go through it: cookies kept, redirects by hand. */
async function signInThroughForm(authorizationUrl: URL): Promise<string> {
  const cookies = new Map<string, string>()
  const go = async (url: string, form?: Record<string, string>): Promise<Response> => {
    const headers: Record<string, string> = {}
    if (cookies.size > 0) {
      headers.cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    }
    const res = await fetch(url, {
      method: form ? 'POST' : 'GET',
      headers,
      redirect: 'manual',
      ...(form ? { body: new URLSearchParams(form) } : {}),
    })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? ''
      const eq = pair.indexOf('=')
      if (eq > 0) cookies.set(pair.slice(0, eq), pair.slice(eq + 1))
    }
    return res
  }
  const toLogin = await go(authorizationUrl.href)
  const loginUrl = new URL(toLogin.headers.get('location') ?? '', issuer).href
  const page = await (await go(loginUrl)).text()
  const fields: Record<string, string> = {}
  for (const [tag] of page.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(tag)?.[1]
    if (name !== undefined) fields[name] = /\bvalue="([^"]*)"/.exec(tag)?.[1] ?? ''
  }
  const done = await go(new URL('/login', issuer).href, { ...fields, username, password })
  const back = done.headers.get('location')
  if (done.status !== 303 || !back) throw new Error(`sign-in form answered ${done.status}`)
  return back
}

const client = createTesseraClient({
  issuer,
  clientId: 'tessera-demo',
  redirectUri: issuer + '/playground/callback',
  apis: audiences.map((audience) => ({ baseUrl: audience, audience })),
  storage: memoryStorage(),
})

const callback = await signInThroughForm(await client.signIn())
await client.handleRedirectCallback(callback)
const snapshot = client.getSnapshot()

const tokens: { audience: string; aud: unknown; sub: unknown; scopes: string[] }[] = []
for (const audience of audiences) {
  const token = await client.getToken({ audience })
  const { claims, scopes } = await createVerifier({ issuer, audience }).verify(token)
  tokens.push({ audience, aud: claims.aud, sub: claims.sub, scopes: [...scopes] })
}

// A token for one API is refused by another API's verifier.
let crossAudience = 'accepted'
try {
  const first = audiences[0]!
  await createVerifier({ issuer, audience: audiences[1]! }).verify(
    await client.getToken({ audience: first }),
  )
} catch (err) {
  crossAudience = err instanceof TesseraVerifyError ? err.code : String(err)
}

await client.signOut()
let afterSignOut = 'resolved'
try {
  await client.getToken({ audience: audiences[0]! })
} catch (err) {
  afterSignOut = err instanceof TesseraClientError ? err.code : String(err)
}

console.log(
  JSON.stringify({
    status: snapshot.status,
    user: snapshot.user?.sub,
    tokens,
    crossAudience,
    afterSignOut,
    statusAfterSignOut: client.getSnapshot().status,
  }),
)
