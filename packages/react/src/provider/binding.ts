import type {
  GetTokenOptions,
  IdTokenClaims,
  SessionSnapshot,
  SessionStatus,
  SignedOutReason,
  SignInOptions,
  SignOutOptions,
  TesseraClient,
  TesseraClientErrorCode,
} from '@tessera/client'
import { DerivedStore } from '../lib/derived-store.js'

/**
 * The signed-in user: the ID token's claims without those of the token itself (`iat`, `exp`,
 * `nbf`, `jti`, `nonce`, `at_hash`, `c_hash`, `s_hash`), which change at every refresh. So `user`
 * keeps its identity across refreshes and changes only when the user's claims do.
 */
export interface TesseraUser {
  readonly iss: string
  /** The user's id. */
  readonly sub: string
  readonly aud: string | readonly string[]
  readonly sid?: string
  readonly auth_time?: number
  readonly azp?: string
  readonly name?: string
  readonly email?: string
  readonly [claim: string]: unknown
}

const TOKEN_CLAIMS = new Set(['iat', 'exp', 'nbf', 'jti', 'nonce', 'at_hash', 'c_hash', 's_hash'])

export function userOf(claims: Readonly<IdTokenClaims>): TesseraUser {
  const user: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(claims)) if (!TOKEN_CLAIMS.has(k)) user[k] = v
  return Object.freeze(user) as unknown as TesseraUser
}

/** What `useAuth` reads: changes only on loading, sign-in, sign-out, a new user or task. */
export interface AuthView {
  readonly isLoaded: boolean
  /** The client has a session (`signed-in`, `refreshing` or `offline`), task or not. */
  readonly hasSession: boolean
  readonly user: TesseraUser | null
  readonly sessionId: string | null
  readonly currentTask: string | null
}

/** What the guard reads: the auth view, plus a sign-in under way and the idle lock. */
export interface GuardView extends AuthView {
  /** A sign-in is under way (the client's `pending` status). */
  readonly signingIn: boolean
  readonly locked: boolean
}

/** What `useSession` returns. */
export interface SessionView {
  /** The client's status: `loading`, `signed-out`, `pending` (sign-in under way), `signed-in`,
   * `refreshing`, `offline`. */
  readonly status: SessionStatus
  readonly isLoaded: boolean
  /** Why there is no session, when `signed-out`. */
  readonly reason: SignedOutReason | null
  /** Device time (ms) of the session's absolute end, when the server said. */
  readonly expireAt: number | null
  /** Device time (ms) at which the session is abandoned if unused, when the server said. */
  readonly abandonAt: number | null
  /** Device time (ms) of the last activity known to the client. */
  readonly lastActiveAt: number | null
  /** The open task of a session pending one (`setup-mfa`: the server's `tessera_task` claim), else null. */
  readonly currentTask: string | null
  /** The idle timeout locked the session; `client.unlock()` opens it. */
  readonly locked: boolean
  /** The transient error behind `offline`, or the last sign-in error. */
  readonly error: { readonly code: TesseraClientErrorCode; readonly message: string } | null
}

/** The stable actions of `useAuth`: one set per client, the same identity on every render, and
 * plain functions (safe to destructure and pass around). */
export interface AuthActions {
  /** An access token for `audience` (default: the issuer); the client's `getToken`. */
  readonly getToken: (options?: GetTokenOptions) => Promise<string>
  /** Starts the hosted sign-in; `returnTo` comes back from the callback. */
  readonly signIn: (options?: SignInOptions) => Promise<URL>
  /** Local sign-out first, then revocation and end-session; the client's `signOut`. */
  readonly signOut: (options?: SignOutOptions) => Promise<{ endSessionUrl: URL | undefined }>
}

/** Everything the provider shares: built once per client. */
export interface Binding {
  readonly client: TesseraClient
  readonly auth: DerivedStore<AuthView>
  readonly guard: DerivedStore<GuardView>
  readonly session: DerivedStore<SessionView>
  readonly actions: AuthActions
  /** The guards' sign-in: one at a time however many guards ask in the same commit. */
  startSignIn(o: SignInOptions): Promise<URL>
}

export function authView(s: SessionSnapshot): AuthView {
  return {
    isLoaded: s.isLoaded,
    hasSession: s.isSignedIn,
    user: s.user ? userOf(s.user) : null,
    sessionId: s.sessionId,
    currentTask: s.isSignedIn ? s.currentTask : null,
  }
}

export function guardView(s: SessionSnapshot): GuardView {
  return { ...authView(s), signingIn: s.status === 'pending', locked: s.locked }
}

export function sessionView(s: SessionSnapshot): SessionView {
  return {
    status: s.status,
    isLoaded: s.isLoaded,
    reason: s.reason,
    expireAt: s.expireAt,
    abandonAt: s.abandonAt,
    lastActiveAt: s.lastActiveAt,
    currentTask: s.currentTask,
    locked: s.locked,
    error: s.error,
  }
}

export function createBinding(client: TesseraClient): Binding {
  let signingIn: Promise<URL> | null = null
  return {
    startSignIn(o) {
      signingIn ??= client.signIn(o).finally(() => {
        signingIn = null
      })
      return signingIn
    },
    client,
    auth: new DerivedStore(client, authView),
    guard: new DerivedStore(client, guardView),
    session: new DerivedStore(client, sessionView),
    actions: Object.freeze({
      getToken: (o?: GetTokenOptions) => client.getToken(o),
      signIn: (o?: SignInOptions) => client.signIn(o),
      signOut: (o?: SignOutOptions) => client.signOut(o),
    }),
  }
}
