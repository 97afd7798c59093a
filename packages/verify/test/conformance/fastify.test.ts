import { startFastify } from '../helpers/apps.js'
import { middlewareSuite } from './middleware-suite.js'

middlewareSuite('fastify', startFastify)
