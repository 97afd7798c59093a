import type { RouteModule } from './http/app.js'
import { loginRoutes } from './login/login-routes.js'
import { authorizeRoutes } from './oauth/authorize/index.js'
import { endSessionRoutes } from './oauth/end-session.js'

/**
 * The feature route modules, in registration order. Each lives in its own folder and owns its
 * paths (see src/oauth/paths.ts).
 */
export const routeModules: RouteModule[] = [authorizeRoutes, loginRoutes, endSessionRoutes]
