/** The platform's timers, typed without DOM or Node types (React Native, Hermes, browsers and
 * Node all have them). */
export const timers = globalThis as unknown as {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}
