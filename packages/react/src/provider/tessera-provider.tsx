import { createContext, useContext, useMemo, type ReactNode } from 'react'
import type { TesseraClient } from '@tessera/client'
import { TesseraReactError } from '../errors.js'
import { createBinding, type Binding } from './binding.js'

const BindingContext = createContext<Binding | null>(null)

export interface TesseraProviderProps {
  /** The app's one client, made with `createTesseraClient` outside React (module scope, or a
   * lazy `useState` initialiser): a new client per render would start a new session load. */
  client: TesseraClient
  children?: ReactNode
}

/**
 * Makes `client` available to the hooks and components of @tessera/react. It holds no session
 * state of its own: every hook reads the client's snapshot through `useSyncExternalStore`, and
 * the server render (and hydration) sees a snapshot that is not loaded.
 *
 * @example
 * const client = createTesseraClient({ issuer, clientId, redirectUri, storage: indexedDbStorage() })
 * createRoot(el).render(<TesseraProvider client={client}><App /></TesseraProvider>)
 */
export function TesseraProvider({ client, children }: TesseraProviderProps): ReactNode {
  const binding = useMemo(() => createBinding(client), [client])
  return <BindingContext.Provider value={binding}>{children}</BindingContext.Provider>
}

/** The provider's binding; throws `missing_provider` outside `<TesseraProvider>`. */
/**
 * The provider's client, or `undefined` outside a `TesseraProvider`: for components that take a
 * `client` prop and fall back to the provider's.
 */
export function useProvidedClient(): TesseraClient | undefined {
  return useContext(BindingContext)?.client
}

export function useBinding(hook: string): Binding {
  const binding = useContext(BindingContext)
  if (!binding) {
    throw new TesseraReactError('missing_provider', `${hook} must be used inside <TesseraProvider>`)
  }
  return binding
}
