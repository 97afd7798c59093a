import { playgroundRoutes } from './dev/playground.js'
import type { RouteModule } from './http/app.js'

/**
 * The feature route modules, in registration order. Each lives in its own folder and owns its
 * paths (see src/oauth/paths.ts).
 */
export const routeModules: RouteModule[] = [playgroundRoutes]
