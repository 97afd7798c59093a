import { PageServer } from '../../../client/test/browser/page-server.js'

/**
 * Serves the React test app on loopback with the client tests' page server: `app.tsx` bundled with
 * esbuild (production React, as a user ships it), and the same HTML page for every path (a
 * single-page app).
 */
export class AppServer extends PageServer {
  constructor() {
    super({
      entry: new URL('./app.tsx', import.meta.url),
      build: { jsx: 'automatic', define: { 'process.env.NODE_ENV': '"production"' }, minify: true },
      title: 'react test app',
      body: '<div id="root"></div>',
    })
  }
}
