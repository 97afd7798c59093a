import { startFetchHandler } from '../helpers/apps.js'
import { middlewareSuite } from './middleware-suite.js'

middlewareSuite('fetch handler (withAuth)', startFetchHandler)
