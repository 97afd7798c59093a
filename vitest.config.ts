import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// Workspace packages are imported from their sources (the `@tessera/source` export condition, which
// points at the `src` each tarball ships), so tests never need a build first. Tests run server-side,
// so the SSR resolver needs it too. The condition is scoped to Tessera's name on purpose: a consumer
// whose own monorepo resolves a plain `source` condition must not get our TypeScript sources.

export default defineConfig({
  resolve: {
    conditions: ['@tessera/source'],
    alias: {
      // `// @vitest-environment tessera-dom`: happy-dom with Node's fetch (see the file).
      'vitest-environment-tessera-dom': fileURLToPath(
        new URL('./packages/react/test/helpers/dom-environment.ts', import.meta.url),
      ),
    },
  },
  // Vite's default server conditions, with `@tessera/source` first.
  ssr: { resolve: { conditions: ['@tessera/source', 'module', 'node', 'development|production'] } },
  test: {
    include: [
      'packages/*/test/**/*.test.{ts,tsx}',
      'examples/*/test/**/*.test.{ts,tsx}',
      'bench/test/**/*.test.{ts,tsx}',
      'test/**/*.test.{ts,tsx}',
    ],
    // @tessera/react-native runs under Jest with React Native's preset (npm test -w).
    exclude: ['**/node_modules/**', 'packages/react-native/**'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report lets CI print a plain 'N passed, N failed' closing line.
    reporters: ['default', ['json', { outputFile: 'test-artifacts/vitest-results.json' }]],
  },
})
