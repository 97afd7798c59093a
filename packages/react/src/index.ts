/**
 * `@tessera/react`: React bindings for `@tessera/client`. The client stays the one source of
 * truth; the provider and hooks read its snapshot through `useSyncExternalStore`.
 *
 * @example
 * import { TesseraProvider, useAuth, Protect } from '@tessera/react'
 * <TesseraProvider client={client}>
 *   <Protect fallback={<Spinner />}><App /></Protect>
 * </TesseraProvider>
 */
export {
  TesseraProvider,
  useProvidedClient,
  type TesseraProviderProps,
} from './provider/tessera-provider.js'
export type { AuthActions, SessionView, TesseraUser } from './provider/binding.js'
export {
  useAuth,
  type UseAuthOptions,
  type UseAuthResult,
  type AuthLoading as AuthLoadingState,
  type AuthSignedIn,
  type AuthSignedOut,
} from './hooks/use-auth.js'
export { useSession } from './hooks/use-session.js'
export { useTesseraClient } from './hooks/use-tessera-client.js'
export {
  useAuthenticatedFetch,
  useApi,
  type Api,
  type AuthenticatedFetch,
} from './hooks/use-authenticated-fetch.js'
export {
  SignedIn,
  SignedOut,
  AuthLoading,
  type ControlProps,
} from './components/control-components.js'
export { Protect, type ProtectProps } from './components/protect.js'
export { safeReturnTo } from './lib/safe-return-to.js'
export { TesseraReactError, type TesseraReactErrorCode } from './errors.js'
