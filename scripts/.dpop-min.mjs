import { build } from 'esbuild'
const out = await build({ stdin: { contents: `export { createTesseraClient, memoryStorage } from '@tessera/client'`, resolveDir: '/work/wt/dpop-sdk/packages/client', loader: 'js' }, bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', conditions: [], write: false })
process.stdout.write(out.outputFiles[0].text)
