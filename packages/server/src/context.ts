import type { FastifyBaseLogger } from 'fastify'
import type { AccountServices } from './accounts/account-services.js'
import type { Mailer } from './email/mailer.js'
import type { TesseraConfig } from './config/config.js'
import type { Clock } from './lib/clock.js'
import type { Random } from './lib/random.js'
import type { Metrics } from './http/metrics.js'
import type { DpopNonces } from './oauth/dpop/dpop-nonces.js'
import type { EventFactory } from './security/events.js'
import type { SessionFacts } from './sessions/session-facts.js'
import type { Throttle } from './security/throttle.js'
import type { Store } from './store/store.js'
import type { RefreshTokenCodec } from './tokens/refresh-token.js'
import type { KeyManager } from './tokens/signing-keys.js'
import type { UpstreamClients } from './upstream/upstream-clients.js'
import type { TokenIssuer } from './tokens/token-issuer.js'

/** Everything a request handler needs, built once per server. */
export interface ServerContext {
  config: TesseraConfig
  store: Store
  clock: Clock
  random: Random
  keys: KeyManager
  refreshTokens: RefreshTokenCodec
  tokens: TokenIssuer
  events: EventFactory
  throttle: Throttle
  metrics: Metrics
  /** Server nonces for DPoP proofs (used when `config.dpop.requireNonce` is set). */
  dpopNonces: DpopNonces
  /** The immutable fields of recently read sessions (see SessionFacts). */
  sessionFacts: SessionFacts
  /** Outgoing mail, queued after the answer (src/email/). */
  mailer: Mailer
  /** Sign-up, verification and password reset mails and settings (src/accounts/). */
  accounts: AccountServices
  /** The "Sign in with ..." providers (src/upstream/). */
  upstream: UpstreamClients
  log: FastifyBaseLogger
}
