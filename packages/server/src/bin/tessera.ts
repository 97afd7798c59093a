#!/usr/bin/env node
import { processIo } from './cli-io.js'
import { runCli } from './cli.js'

process.exit(await runCli(process.argv.slice(2), processIo()))
