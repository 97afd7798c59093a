/**
 * A micro frontend written in React: one component reads the shell's session with
 * `useFrameAuth` and, once signed in, shows its API's answer fetched with the hook's `fetch`.
 * Every render is recorded on `window.__renders` (its text and which `user` object it had).
 */
import { useEffect, useState } from 'react'
import { createRoot } from 'react-dom/client'
import { createFrameClient, type FrameClient } from '../../src/index.js'
import { useFrameAuth } from '../../src/react.js'

declare global {
  interface Window {
    frame: FrameClient
    __renders: string[]
  }
}

interface ReactFrameConfig {
  shellOrigin: string
  /** The orders API's URL (also its audience). */
  api: string
}

const cfg = (window as unknown as { __CONFIG: ReactFrameConfig }).__CONFIG
const frame = createFrameClient({
  shellOrigin: cfg.shellOrigin,
  apis: [{ baseUrl: cfg.api, audience: cfg.api }],
})
window.frame = frame
window.__renders = []
/** Each distinct `user` object the hook returned, so a render names its user by identity. */
const users: unknown[] = []

function Orders() {
  const { isLoaded, isSignedIn, user, status, locked, fetch } = useFrameAuth(frame)
  const [answer, setAnswer] = useState('')
  useEffect(() => {
    if (!isSignedIn) return setAnswer('')
    let live = true
    fetch(cfg.api + '/hello').then(
      async (r) => {
        const text = `${r.status} ${await r.text()}`
        if (live) setAnswer(text)
      },
      (err: { code?: string }) => live && setAnswer(`error ${String(err.code)}`),
    )
    return () => {
      live = false
    }
  }, [isSignedIn, fetch])
  const state = !isLoaded
    ? 'loading'
    : isSignedIn
      ? `signed in as ${typeof user?.preferred_username === 'string' ? user.preferred_username : user?.sub}`
      : 'signed out'
  const userNo = user ? users.indexOf(user) + 1 || users.push(user) : 0
  window.__renders.push(`${state}|${status}|${String(locked)}|user ${userNo}|${answer}`)
  return (
    <main>
      <p id="state">{state}</p>
      <p id="status">{status}</p>
      <pre id="answer">{answer}</pre>
    </main>
  )
}

const root = document.createElement('div')
document.body.append(root)
createRoot(root).render(<Orders />)
