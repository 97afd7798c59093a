import { defineConfig } from 'vitest/config'

// Workspace packages are imported from their sources (the `source` export condition), so tests
// never need a build first. Tests run server-side, so the SSR resolver needs it too.

export default defineConfig({
  resolve: { conditions: ['source'] },
  // Vite's default server conditions, with `source` first.
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'bench/test/**/*.test.ts'],
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
