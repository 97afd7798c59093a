/**
 * Vitest's happy-dom environment, with Node's own networking and messaging kept: `fetch`,
 * `Request`, `Response`, `Headers`, `AbortController`/`AbortSignal` and `BroadcastChannel`.
 * Files choose it with `// @vitest-environment tessera-dom` (an alias in vitest.config.ts).
 *
 * Why: these tests run a real client against a real Tessera server and sign in through the
 * hosted form over HTTP from Node (a cookie jar and manual redirects, as the client's integration
 * tests do). happy-dom's `fetch` acts as a page at http://localhost:3000 would, with its
 * same-origin policy and its own cookie store, so it refuses those requests. The page-side
 * behaviour of a browser's `fetch` is covered where it belongs, in the Chromium test
 * (`browser.test.ts`). The DOM (document, elements, events) is happy-dom's, as with the
 * built-in environment.
 */
import { builtinEnvironments, type Environment } from 'vitest/environments'

const KEPT = [
  'fetch',
  'Request',
  'Response',
  'Headers',
  'FormData',
  'AbortController',
  'AbortSignal',
  'BroadcastChannel',
  'MessageChannel',
  'MessagePort',
] as const

const environment: Environment = {
  name: 'happy-dom-node-fetch',
  transformMode: 'web',
  async setup(global: Record<string, unknown>, options) {
    const kept = new Map(KEPT.map((k) => [k, global[k]]))
    const inner = await builtinEnvironments['happy-dom'].setup(global, options)
    for (const [k, v] of kept) {
      Object.defineProperty(global, k, { value: v, configurable: true, writable: true })
    }
    return {
      async teardown(g: Record<string, unknown>) {
        await inner.teardown(g)
        for (const [k, v] of kept) {
          Object.defineProperty(g, k, { value: v, configurable: true, writable: true })
        }
      },
    }
  },
}

export default environment
