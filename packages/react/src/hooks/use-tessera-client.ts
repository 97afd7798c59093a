import type { TesseraClient } from '@tessera/client'
import { useBinding } from '../provider/tessera-provider.js'

/** The provider's client, for what the hooks do not cover (`unlock`, `onSignOut` ...). */
export function useTesseraClient(): TesseraClient {
  return useBinding('useTesseraClient').client
}
