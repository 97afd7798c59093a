// Metro for the example inside the Tessera monorepo: Expo finds the workspace root itself. Two
// additions let the app bundle the workspace packages from their TypeScript sources (no build):
// the `@tessera/source` export condition, and `./x.js` imports of a TypeScript file resolving to
// `./x.ts` (the packages are written for Node's module resolution). An app that installs the
// published packages needs neither: they ship JavaScript.
const { getDefaultConfig } = require('expo/metro-config')
const { resolve } = require('metro-resolver')

const config = getDefaultConfig(__dirname)
config.resolver.unstable_conditionNames = [
  '@tessera/source',
  ...(config.resolver.unstable_conditionNames ?? ['require', 'import']),
]
const upstream = config.resolver.resolveRequest
const resolveOnce = (context, name, platform) =>
  upstream ? upstream(context, name, platform) : resolve(context, name, platform)
config.resolver.resolveRequest = (context, name, platform) => {
  try {
    return resolveOnce(context, name, platform)
  } catch (err) {
    if (name.startsWith('.') && name.endsWith('.js') && /\.tsx?$/.test(context.originModulePath)) {
      return resolveOnce(context, name.slice(0, -3), platform)
    }
    throw err
  }
}
module.exports = config
