import { adminApiRoutes } from './admin/api/admin-api.js'
import { adminConsoleRoutes } from './admin/console/console-routes.js'
import { accountRoutes } from './account/index.js'
import { deviceKeyRoutes } from './device-keys/device-key-routes.js'
import { accountRoutes as accountPageRoutes } from './accounts/account-routes.js'
import { devMailRoutes } from './dev/mail-page.js'
import { playgroundRoutes } from './dev/playground.js'
import type { RouteModule } from './http/app.js'
import { loginRoutes } from './login/login-routes.js'
import { pageLookRoutes } from './login/page-look.js'
import { secondFactorRoutes } from './login/second-factor-step.js'
import { accountMfaRoutes } from './mfa/account-mfa-page.js'
import { passkeyLoginRoutes } from './passkeys/passkey-login-routes.js'
import { passkeyPageRoutes } from './passkeys/passkey-page-routes.js'
import { upstreamRoutes } from './upstream/upstream-routes.js'
import { authorizeRoutes } from './oauth/authorize/index.js'
import { endSessionRoutes } from './oauth/end-session.js'
import { introspectRoutes } from './oauth/introspect.js'
import { revokeRoutes } from './oauth/revoke.js'
import { tokenRoutes } from './oauth/token/index.js'
import { userinfoRoutes } from './oauth/userinfo.js'

/**
 * The feature route modules, in registration order. Each lives in its own folder and owns its
 * paths (see src/oauth/paths.ts).
 */
export const routeModules: RouteModule[] = [
  pageLookRoutes,
  authorizeRoutes,
  loginRoutes,
  secondFactorRoutes,
  accountMfaRoutes,
  passkeyLoginRoutes,
  passkeyPageRoutes,
  upstreamRoutes,
  endSessionRoutes,
  tokenRoutes,
  revokeRoutes,
  introspectRoutes,
  userinfoRoutes,
  accountRoutes,
  deviceKeyRoutes,
  accountPageRoutes,
  playgroundRoutes,
  devMailRoutes,
]

/** The Admin API and the admin console: on the public listener, or on the internal one that
 * `admin.port` opens. */
export const adminRouteModules: RouteModule[] = [adminApiRoutes, adminConsoleRoutes]
