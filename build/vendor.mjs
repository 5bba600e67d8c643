// Bundles the heavy libraries mindbg loads at run time into single files, each cut down to what mindbg uses. Loaded
// as hundreds of separate modules, @oclif/core costs ~115 ms at every start-up, dockerode ~50 ms on every Docker
// session and @kubernetes/client-node ~800 ms on every Kubernetes session; bundled as below, ~15, ~20 and ~40 ms. mindbg imports them through the subpath
// imports "#oclif", "#dockerode" and "#k8s" (package.json), with types from the original packages (tsconfig paths).
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {resolve as resolvePath} from 'node:path'
import {createRequire} from 'node:module'

import {build} from 'esbuild'

const common = {bundle: true, platform: 'node', target: 'node22', minify: !process.env.VENDOR_NO_MINIFY, legalComments: 'linked', logLevel: 'warning'}

// @oclif/core: only the parts mindbg imports (not its index, which loads help, ux, the engine check with semver...),
// and inside them every top-level require() is evaluated on first use (build/lazy-module.cjs): a one-shot attach
// never touches most of oclif's modules (help, themes, spinners, globbing). ~45 ms of evaluation becomes ~15.
// Importing anything else from "#oclif" fails at load time: add it to OCLIF_EXPORTS.
const OCLIF_EXPORTS = `export * as Args from '@oclif/core/args'
export * as Flags from '@oclif/core/flags'
export {Command} from '@oclif/core/command'
export {run} from '@oclif/core/run'
export {flush} from '@oclif/core/flush'`
/**
 * oclif sorts a plugin's command IDs with localeCompare at every start-up; the first localeCompare in a process
 * sets up ICU collation (~13 ms). mindbg's command IDs are lower-case ASCII words, for which code-unit order is the
 * same order. The replacement must apply: a new oclif that moved the line fails the build here.
 */
function patchOclif(source) {
  const sortById = '.sort((a, b) => a.id.localeCompare(b.id))'
  if (!source.includes('exports.Plugin = Plugin') && !source.includes('class Plugin {')) return source
  if (!source.includes(sortById)) throw new Error('build/vendor.mjs: @oclif/core Plugin no longer sorts commands with localeCompare: review patchOclif')
  return source.replace(sortById, '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))')
}
/**
 * Makes the module-level `X = require('y')` of the files matching `files` lazy: the module y is evaluated when X
 * is first used (build/lazy-module.cjs). Matches a declaration (`const|var|let X = require(...)`, also through
 * TypeScript's __importDefault/__importStar) or a two-space-indented continuation of a top-level `var` list, each
 * alone on its line, as TypeScript and these libraries write them.
 */
function lazyRequires(files) {
  const moduleLevelRequire = /^((?:const|var|let) |  )(\w+) = ((?:__importDefault|__importStar)\(require\((["'])[^"']+\4\)\)|require\((["'])[^"']+\5\))(?=[,;]?$)/gm
  const helper = `const __lazyModule = require(${JSON.stringify(resolvePath('build/lazy-module.cjs'))});`
  return {
    name: 'lazy-requires',
    setup(b) {
      b.onLoad({filter: files}, (a) => {
        const source = patchOclif(readFileSync(a.path, 'utf8')).replace(moduleLevelRequire, (_, lead, name, expr) => `${lead}${name} = __lazyModule(() => ${expr})`)
        return {contents: `${helper}\n${source}`, loader: 'js'}
      })
    },
  }
}
await build({
  ...common,
  stdin: {contents: OCLIF_EXPORTS, resolveDir: '.', loader: 'js'},
  outfile: 'dist/vendor/oclif-core.cjs',
  format: 'cjs',
  // Loaded by oclif only for TypeScript sources in development, never by the built CLI.
  external: ['typescript', 'ts-node', 'tsx'],
  plugins: [lazyRequires(/@oclif[\\/]core[\\/]lib[\\/].*\.js$/)],
})
// Node cannot see the named exports of a minified CommonJS file: an ESM facade names them explicitly.
mkdirSync('dist/vendor', {recursive: true})
const requireHere = createRequire(import.meta.url)
const names = Object.keys(requireHere('../dist/vendor/oclif-core.cjs')).filter((n) => n !== 'default' && n !== '__esModule')
writeFileSync('dist/vendor/oclif-core.mjs', `import core from './oclif-core.cjs'\nexport const {${names.join(', ')}} = core\nexport default core\n`)

// mindbg needs only KubeConfig (kubeconfig loading, auth plugins, TLS options for its own requests). Its module
// imports, for code paths mindbg never takes or rarely does, the generated API client (3 MB), undici (700 kB; Node's
// own copy costs ~35 ms more when openid-client touches the fetch globals), openid-client and socks. Those are
// replaced by stand-ins that forward to the real modules, loaded from node_modules on first use (an OIDC refresh, a
// socks5 proxy-url): ~260 ms of import becomes ~60 ms. Each stand-in's exports are checked against the real module.
const k8sStandIns = [
  {specifier: 'undici', importer: '/client-node/dist/config.js', real: 'undici', classes: ['Agent', 'ProxyAgent']},
  {specifier: './gen/index.js', importer: '/client-node/dist/config.js', real: '@kubernetes/client-node/dist/gen/index.js',
    classes: ['ServerConfiguration'], functions: ['createConfiguration']},
  {specifier: 'openid-client', importer: '/client-node/dist/oidc_auth.js', real: 'openid-client', functions: ['refreshTokenGrant']},
  {specifier: 'socks', importer: '/client-node/dist/config.js', real: 'socks', statics: {SocksClient: ['createConnection']}},
  {specifier: 'socks-proxy-agent', importer: '/client-node/dist/config.js', real: 'socks-proxy-agent', classes: ['SocksProxyAgent']},
]
for (const s of k8sStandIns) {
  const real = requireHere(requireHere.resolve(s.real, {paths: [resolvePath('node_modules/@kubernetes/client-node')]}))
  const missing = [...(s.classes ?? []), ...(s.functions ?? []), ...Object.keys(s.statics ?? {})].filter((n) => typeof real[n] !== 'function')
  if (missing.length > 0) throw new Error(`build/vendor.mjs: ${s.real} no longer exports ${missing.join(', ')}: update k8sStandIns`)
}
/** ESM source of a stand-in: every export forwards to the real module, required (at run time) on first use. */
function standInSource(s) {
  const lines = [
    '// Stand-in made by build/vendor.mjs: forwards to the real module, loaded on first use.',
    `let real; const load = () => (real ??= require(${JSON.stringify(s.real)}))`,
    ...(s.classes ?? []).map((n) => `export class ${n} { constructor(...a) { return new (load().${n})(...a) } }`),
    ...(s.functions ?? []).map((n) => `export function ${n}(...a) { return load().${n}(...a) }`),
    ...Object.entries(s.statics ?? {}).map(([n, methods]) =>
      `export const ${n} = {${methods.map((m) => `${m}: (...a) => load().${n}.${m}(...a)`).join(', ')}}`),
  ]
  return lines.join('\n')
}
await build({
  ...common,
  stdin: {contents: "export {KubeConfig} from '@kubernetes/client-node/dist/config.js'", resolveDir: '.', loader: 'js'},
  outfile: 'dist/vendor/k8s-client.cjs',
  // CommonJS, not ESM: an ESM `import 'node:http'` reads every export of node:http, and its lazy WebSocket getters
  // load Node's bundled undici (~40 ms).
  format: 'cjs',
  plugins: [{
    name: 'k8s-stand-ins',
    setup(b) {
      b.onResolve({filter: /.*/}, (a) => {
        // The stand-ins' own require() of the real module happens at run time.
        if (a.namespace === 'stand-in') return {path: a.path, external: true}
        const i = k8sStandIns.findIndex((s) => s.specifier === a.path && a.importer.endsWith(s.importer))
        return i === -1 ? undefined : {path: String(i), namespace: 'stand-in'}
      })
      b.onLoad({filter: /.*/, namespace: 'stand-in'}, (a) => ({contents: standInSource(k8sStandIns[Number(a.path)]), loader: 'js'}))
    },
  }],
})

// dockerode's two idle dependencies (ssh2 for ssh:// engines, gRPC for BuildKit sessions: ~110 ms together) are
// replaced by stand-ins that load the real modules from node_modules on first use (src/runtime/lazy).
const standIns = {
  name: 'dockerode-stand-ins',
  setup(b) {
    b.onResolve({filter: /^ssh2$/}, (a) => a.importer.includes('/docker-modem/') ? {path: resolvePath('dist/src/runtime/lazy/ssh2.cjs')} : undefined)
    b.onResolve({filter: /^\.\/session$/}, (a) => a.importer.includes('/dockerode/lib/') ? {path: resolvePath('dist/src/runtime/lazy/dockerode-session.cjs')} : undefined)
    b.onResolve({filter: /^url$/}, (a) => a.importer.includes('/docker-modem/') ? {path: resolvePath('build/legacy-url.cjs')} : undefined)
  },
}
await build({
  ...common,
  entryPoints: ['node_modules/dockerode/lib/docker.js'],
  outfile: 'dist/vendor/dockerode.cjs',
  format: 'cjs',
  plugins: [standIns],
  // The stand-ins resolve the real modules at run time on purpose.
  logOverride: {'require-resolve-not-external': 'silent'},
})
