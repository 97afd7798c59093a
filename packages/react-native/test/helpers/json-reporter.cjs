'use strict'
const fs = require('node:fs')
const path = require('node:path')

/**
 * Writes Jest's aggregated results as JSON (the shape of `jest --json`) to `output`, which the
 * root CI sums with vitest's report.
 */
module.exports = class JsonReporter {
  constructor(_globalConfig, options) {
    this.output = options.output
  }

  onRunComplete(_contexts, results) {
    fs.mkdirSync(path.dirname(this.output), { recursive: true })
    const {
      numTotalTests,
      numPassedTests,
      numFailedTests,
      numPendingTests,
      numTodoTests,
      success,
      testResults,
    } = results
    const report = {
      numTotalTests,
      numPassedTests,
      numFailedTests,
      numPendingTests,
      numTodoTests,
      success,
      testResults: testResults.map((r) => ({
        name: r.testFilePath,
        status: r.numFailingTests > 0 || r.testExecError ? 'failed' : 'passed',
        message: r.failureMessage ?? '',
        assertionResults: r.testResults.map((t) => ({
          fullName: t.fullName,
          status: t.status,
          duration: t.duration,
          failureMessages: t.failureMessages,
        })),
      })),
    }
    fs.writeFileSync(this.output, JSON.stringify(report, null, 2))
  }
}
