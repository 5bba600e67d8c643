// Bundles the two heavy libraries mindbg loads at run time into single files. Loaded as hundreds of separate
// modules, @oclif/core costs ~115 ms at every start-up and @kubernetes/client-node ~800 ms on every Kubernetes
// session; bundled, ~50 ms and ~200 ms. mindbg imports them through the subpath imports "#oclif" and "#k8s"
// (package.json), with types from the original packages (tsconfig paths).
import {mkdirSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'

import {build} from 'esbuild'

const common = {bundle: true, platform: 'node', target: 'node22', minify: true, legalComments: 'linked', logLevel: 'warning'}

await build({
  ...common,
  entryPoints: ['node_modules/@oclif/core/lib/index.js'],
  outfile: 'dist/vendor/oclif-core.cjs',
  format: 'cjs',
  // Loaded by oclif only for TypeScript sources in development, never by the built CLI.
  external: ['typescript', 'ts-node', 'tsx'],
})
// Node cannot see the named exports of a minified CommonJS file: an ESM facade names them explicitly.
mkdirSync('dist/vendor', {recursive: true})
const names = Object.keys(createRequire(import.meta.url)('../dist/vendor/oclif-core.cjs')).filter((n) => n !== 'default' && n !== '__esModule')
writeFileSync('dist/vendor/oclif-core.mjs', `import core from './oclif-core.cjs'\nexport const {${names.join(', ')}} = core\nexport default core\n`)

await build({
  ...common,
  stdin: {contents: "export {KubeConfig} from '@kubernetes/client-node'", resolveDir: '.', loader: 'js'},
  outfile: 'dist/vendor/k8s-client.mjs',
  format: 'esm',
  // Bundled CommonJS dependencies call require(): give the ESM bundle one.
  banner: {js: "import {createRequire as __mindbgRequire} from 'node:module'; const require = __mindbgRequire(import.meta.url);"},
})
