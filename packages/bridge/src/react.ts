/**
 * `@tessera/bridge/react`: `useFrameAuth`, the shell's session in a micro frontend written in
 * React. React is an optional peer dependency of `@tessera/bridge`, imported only by this entry.
 *
 * @example
 * import { createFrameClient } from '@tessera/bridge'
 * import { useFrameAuth } from '@tessera/bridge/react'
 * const frame = createFrameClient({ shellOrigin: 'https://app.example.com' })
 * const { isLoaded, isSignedIn, user } = useFrameAuth(frame)
 */
export { useFrameAuth, type FrameAuth, type UseFrameAuthOptions } from './react/use-frame-auth.js'
export type { FrameAuthSource, FrameAuthView, FrameUser } from './react/frame-store.js'
