// @vitest-environment tessera-dom
/**
 * `useFrameAuth` over an in-memory frame with the frame client's exact interface (the methods
 * `useFrameAuth` takes from `FrameClient`, typed as such): the three-state reading before the
 * handshake, re-renders only on a change by value, stable functions, the handshake on mount, the
 * server render. The real frame client, shell and server are in
 * `test/browser/use-frame-auth.browser.test.ts`.
 */
import { useState } from 'react'
import { renderToString } from 'react-dom/server'
import { act, cleanup, render, screen } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { INITIAL_SNAPSHOT, type SessionSnapshot } from '@tessera/client'
import { BridgeError, type FrameGetTokenOptions } from '../../src/index.js'
import { useFrameAuth, type FrameAuth, type FrameAuthSource } from '../../src/react.js'

const LOADING = INITIAL_SNAPSHOT

const claims = (iat: number, name = 'Alice') => ({
  iss: 'https://auth.example.com',
  sub: 'user-1',
  aud: 'shell-app',
  sid: 'sid-1',
  name,
  iat,
  exp: iat + 300,
  at_hash: `h${iat}`,
})

const signedIn = (iat: number, more: Partial<SessionSnapshot> = {}): SessionSnapshot => ({
  ...LOADING,
  status: 'signed-in',
  isLoaded: true,
  isSignedIn: true,
  user: claims(iat),
  sessionId: 'sid-1',
  lastActiveAt: iat * 1000,
  ...more,
})

const signedOut: SessionSnapshot = {
  ...LOADING,
  status: 'signed-out',
  isLoaded: true,
  reason: 'sign_out',
}

/** A frame client in memory: the snapshot is set by the test, calls are recorded. */
class MemoryFrame implements FrameAuthSource {
  snapshot: SessionSnapshot = LOADING
  readonly listeners = new Set<() => void>()
  readonly calls: string[] = []
  connectResult: Promise<void> = new Promise(() => {})

  getSnapshot = () => this.snapshot
  subscribe = (l: () => void) => {
    this.listeners.add(l)
    return () => void this.listeners.delete(l)
  }
  connect(): Promise<void> {
    this.calls.push('connect')
    return this.connectResult
  }
  getToken(o: FrameGetTokenOptions): Promise<string> {
    this.calls.push(`getToken ${o.audience}`)
    return Promise.resolve(`token-for-${o.audience}`)
  }
  fetch = (input: Request | string | URL): Promise<Response> => {
    this.calls.push(`fetch ${input instanceof Request ? input.url : input.toString()}`)
    return Promise.resolve(new Response('ok'))
  }
  set(s: SessionSnapshot) {
    act(() => {
      this.snapshot = s
      for (const l of [...this.listeners]) l()
    })
  }
}

afterEach(cleanup)

function Probe(props: { frame: FrameAuthSource; seen: FrameAuth[]; connect?: boolean }) {
  const auth = useFrameAuth(
    props.frame,
    props.connect === undefined ? {} : { connect: props.connect },
  )
  props.seen.push(auth)
  return (
    <p data-testid="auth">
      {auth.isLoaded ? (auth.isSignedIn ? `in:${String(auth.user?.name)}` : 'out') : 'loading'}
    </p>
  )
}

describe('useFrameAuth', () => {
  it('isSignedIn is undefined until the shell answered, then the session; user without token claims', () => {
    const frame = new MemoryFrame()
    const seen: FrameAuth[] = []
    render(<Probe frame={frame} seen={seen} />)
    expect(seen.at(-1)).toMatchObject({
      isLoaded: false,
      isSignedIn: undefined,
      user: null,
      sessionId: null,
      locked: false,
      status: 'loading',
      connectError: null,
    })
    frame.set(signedIn(1000))
    expect(screen.getByTestId('auth').textContent).toBe('in:Alice')
    const a = seen.at(-1)!
    expect({ ...a, getToken: undefined, fetch: undefined }).toEqual({
      isLoaded: true,
      isSignedIn: true,
      user: {
        iss: 'https://auth.example.com',
        sub: 'user-1',
        aud: 'shell-app',
        sid: 'sid-1',
        name: 'Alice',
      },
      sessionId: 'sid-1',
      locked: false,
      status: 'signed-in',
      connectError: null,
      getToken: undefined,
      fetch: undefined,
    })
    frame.set(signedOut)
    expect(screen.getByTestId('auth').textContent).toBe('out')
    expect(seen.at(-1)).toMatchObject({
      isLoaded: true,
      isSignedIn: false,
      user: null,
      sessionId: null,
    })
  })

  it('re-renders only when a field changes by value, not when the shell refreshes a token', () => {
    const frame = new MemoryFrame()
    frame.snapshot = signedIn(1000)
    const seen: FrameAuth[] = []
    render(<Probe frame={frame} seen={seen} />)
    const renders = seen.length
    const first = seen.at(-1)!
    // A refresh: new snapshot object, new ID token (iat, exp, at_hash), new lastActiveAt.
    frame.set(signedIn(2000))
    frame.set(signedIn(3000, { abandonAt: 99_000, expireAt: 100_000 }))
    expect(seen.length).toBe(renders)
    // Status, lock, a claim of the user: each one render, the unchanged fields kept by identity.
    frame.set(signedIn(4000, { status: 'refreshing' }))
    expect(seen.length).toBe(renders + 1)
    expect(seen.at(-1)!.user).toBe(first.user)
    frame.set(signedIn(5000, { locked: true }))
    expect(seen.length).toBe(renders + 2)
    expect(seen.at(-1)).toMatchObject({ locked: true, status: 'signed-in' })
    frame.set({ ...signedIn(6000, { locked: true }), user: claims(6000, 'Alice B.') })
    expect(seen.length).toBe(renders + 3)
    expect(seen.at(-1)!.user?.name).toBe('Alice B.')
  })

  it('getToken and fetch keep their identity across renders and components, and call the frame client', async () => {
    const frame = new MemoryFrame()
    const a: FrameAuth[] = []
    const b: FrameAuth[] = []
    render(
      <>
        <Probe frame={frame} seen={a} />
        <Probe frame={frame} seen={b} />
      </>,
    )
    frame.set(signedIn(1000))
    frame.set(signedOut)
    const all = [...a, ...b]
    expect(new Set(all.map((x) => x.getToken)).size).toBe(1)
    expect(new Set(all.map((x) => x.fetch)).size).toBe(1)
    const { getToken, fetch } = a.at(-1)!
    expect(await getToken({ audience: 'https://orders-api.example.com' })).toBe(
      'token-for-https://orders-api.example.com',
    )
    expect(await (await fetch('https://orders-api.example.com/orders')).text()).toBe('ok')
    expect(frame.calls.filter((c) => c !== 'connect')).toEqual([
      'getToken https://orders-api.example.com',
      'fetch https://orders-api.example.com/orders',
    ])
  })

  it('connects to the shell on mount (once per component), not with connect: false', () => {
    const frame = new MemoryFrame()
    render(<Probe frame={frame} seen={[]} />)
    expect(frame.calls).toEqual(['connect'])
    cleanup()
    const quiet = new MemoryFrame()
    render(<Probe frame={quiet} seen={[]} connect={false} />)
    expect(quiet.calls).toEqual([])
  })

  it('a failed handshake is reported as connectError, the view stays loading', async () => {
    const frame = new MemoryFrame()
    frame.connectResult = Promise.reject(
      new BridgeError('shell_unavailable', 'no shell answered the handshake within 5000 ms'),
    )
    const seen: FrameAuth[] = []
    render(<Probe frame={frame} seen={seen} />)
    await act(async () => {
      await frame.connectResult.catch(() => {})
    })
    const last = seen.at(-1)!
    expect(last.connectError).toBeInstanceOf(BridgeError)
    expect(last.connectError?.code).toBe('shell_unavailable')
    expect(last.connectError?.message).toBe('no shell answered the handshake within 5000 ms')
    expect(last).toMatchObject({ isLoaded: false, isSignedIn: undefined })
  })

  it('the server render shows loading without reading the frame client or connecting', () => {
    const frame = new MemoryFrame()
    frame.snapshot = signedIn(1000)
    let reads = 0
    frame.getSnapshot = () => {
      reads++
      return frame.snapshot
    }
    const html = renderToString(<Probe frame={frame} seen={[]} />)
    expect(html).toBe('<p data-testid="auth">loading</p>')
    expect(reads).toBe(0)
    expect(frame.calls).toEqual([])
  })

  it('every component of one frame client shares one view: the very same user object', () => {
    const frame = new MemoryFrame()
    frame.snapshot = signedIn(1000)
    const a: FrameAuth[] = []
    const b: FrameAuth[] = []
    function Two() {
      const [n] = useState(0)
      return (
        <div data-n={n}>
          <Probe frame={frame} seen={a} />
          <Probe frame={frame} seen={b} />
        </div>
      )
    }
    render(<Two />)
    expect(a.at(-1)!.user).toBe(b.at(-1)!.user)
    expect(a.at(-1)!.status).toBe('signed-in')
  })
})
