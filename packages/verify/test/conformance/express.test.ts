import { startExpress } from '../helpers/apps.js'
import { middlewareSuite } from './middleware-suite.js'

middlewareSuite('express', startExpress)
