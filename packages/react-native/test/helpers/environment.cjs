'use strict'
/**
 * React Native's test environment, plus: the `@tessera/source` export condition (so `@tessera/client`
 * resolves to its TypeScript sources, as in the rest of the workspace's tests), and Node's
 * fetch classes, which the tests use to reach the real Tessera server on loopback (on a phone,
 * React Native provides them). Web Crypto is removed, as on Hermes: the package must bring its
 * own crypto.
 */
const RNEnv = require('@react-native/jest-preset/jest/react-native-env.js')

module.exports = class TesseraRNEnv extends RNEnv {
  customExportConditions = ['@tessera/source', 'require', 'react-native']

  constructor(config, context) {
    super(config, context)
    const g = this.global
    for (const name of [
      'fetch',
      'Request',
      'Response',
      'Headers',
      'AbortController',
      'AbortSignal',
      'TextEncoder',
      'TextDecoder',
      'URL',
      'URLSearchParams',
    ]) {
      g[name] = globalThis[name]
    }
    delete g.crypto
  }
}
