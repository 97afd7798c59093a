import { startHono } from '../helpers/apps.js'
import { middlewareSuite } from './middleware-suite.js'

middlewareSuite('hono', startHono)
