/**
 * React Native's own Jest preset (@react-native/jest-preset, the one `react-native init` apps
 * use), with the workspace's TypeScript sources (`@tessera/source` export condition) and the ESM-only
 * @noble packages transformed by Babel. Writes a JSON report that the root CI adds up.
 */
const path = require('node:path')

const root = path.resolve(__dirname, '../..')

module.exports = {
  preset: '@react-native/jest-preset',
  rootDir: __dirname,
  testEnvironment: '<rootDir>/test/helpers/environment.cjs',
  testMatch: ['<rootDir>/test/**/*.test.ts?(x)'],
  transformIgnorePatterns: [
    'node_modules/(?!((jest-)?react-native|@react-native(-community)?|@noble|@testing-library)/)',
  ],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 30000,
  reporters: [
    'default',
    [
      '<rootDir>/test/helpers/json-reporter.cjs',
      { output: path.join(root, 'test-artifacts/jest-results.json') },
    ],
  ],
}
