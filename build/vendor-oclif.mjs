// Bundles @oclif/core into one file. Loading it as ~200 separate modules costs ~115 ms at every start-up; as one
// file it costs ~50 ms. mindbg's own modules import it through the "#oclif" subpath import (package.json).
import {build} from 'esbuild'

await build({
  entryPoints: ['node_modules/@oclif/core/lib/index.js'],
  outfile: 'dist/vendor/oclif-core.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  minify: true,
  legalComments: 'linked',
  // Loaded by oclif only for TypeScript sources in development, never by the built CLI.
  external: ['typescript', 'ts-node', 'tsx'],
  logLevel: 'warning',
})

// Node cannot see the named exports of a minified CommonJS file: an ESM facade names them explicitly.
const {createRequire} = await import('node:module')
const {writeFileSync} = await import('node:fs')
const names = Object.keys(createRequire(import.meta.url)('../dist/vendor/oclif-core.cjs')).filter((n) => n !== 'default' && n !== '__esModule')
writeFileSync(
  'dist/vendor/oclif-core.mjs',
  `import core from './oclif-core.cjs'\nexport const {${names.join(', ')}} = core\nexport default core\n`,
)
