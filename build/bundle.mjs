// mindbg's commands, with the session core and both backends, as one ES module, dist/mindbg.js: as ~60 separate
// modules they cost ~15 ms more at every attach (resolution and linking per file, even from the compile cache).
// Modules reached through import() (a backend) are still evaluated on first use only. Left out, and loaded as
// before: the heavy libraries ("#oclif", "#dockerode", "#k8s", ws, yaml, ora: build/vendor.mjs, through
// src/deps.ts), and src/domain/errors.ts, which src/cli/main.ts (what `--help` and `--version` load, without the
// bundle) shares with the commands: one MindbgError class, or `instanceof` would fail across the two.
// dist/commands/*.js re-export their command from the bundle, for oclif; the reaper, a process of its own, is
// bundled alone into dist/reaper.js, where the bundled watchdog looks for it (./reaper.js next to itself). Shell
// completion (mindbg __complete, kubectl_complete-mindbg) is dist/complete.js: no oclif, no command classes; the
// fast path of `mindbg attach` (src/cli/fast-attach.ts) is dist/attach.js, without oclif either.
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {resolve} from 'node:path'

import {build} from 'esbuild'

import {contentHash} from './content-hash.mjs'

// Every file of commands/ is a command: none can be left out of the bundle.
const COMMANDS = readdirSync('commands').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort()
const SHARED = resolve('src/domain/errors.ts')
// Node's built-in modules through process.getBuiltinModule(), as CommonJS modules of the bundle, not ESM imports:
// an ESM import of a builtin builds its namespace, which reads every export, lazy getters included (fs.promises loads
// fs/promises, crypto's webcrypto, http's WebSocket...): `import ... from 'node:fs'` alone costs ~20 ms, node:crypto
// ~13. And each is loaded when one of its exports is first read, not when the bundle is (node:child_process ~7 ms,
// node:net ~5, node:readline, fs/promises: not all of them on every path). The export names are this Node's.
const builtins = {
  name: 'builtins',
  setup(b) {
    b.onResolve({filter: /^node:/}, (a) => ({path: a.path, namespace: 'builtin'}))
    b.onLoad({filter: /.*/, namespace: 'builtin'}, (a) => {
      const names = Object.keys(process.getBuiltinModule(a.path)).filter((n) => n !== 'default')
      const getters = names.map((n) => `${JSON.stringify(n)}: {get: () => load()[${JSON.stringify(n)}], enumerable: true}`).join(',\n  ')
      // The getters on the prototype: esbuild's __toESM copies a module's own properties (~100 for node:fs) into each
      // importer's view of it, and reads these through the prototype instead.
      return {contents: `let m\nconst load = () => (m ??= process.getBuiltinModule(${JSON.stringify(a.path)}))\nmodule.exports = Object.create(Object.defineProperties({}, {\n  ${getters}\n}))\n`, loader: 'js'}
    })
  },
}
const common = {bundle: true, platform: 'node', target: 'node22', format: 'esm', logLevel: 'warning', packages: 'external', external: ['#oclif', '#dockerode', '#k8s', '#js-yaml', '#ws', '#yaml'], plugins: [builtins]}
const capitalised = (name) => name[0].toUpperCase() + name.slice(1)
const shareErrors = {
  name: 'share-errors',
  setup(b) {
    b.onResolve({filter: /errors\.js$/}, (a) => (resolve(a.resolveDir, a.path.replace(/\.js$/, '.ts')) === SHARED ? {path: './src/domain/errors.js', external: true} : undefined))
  },
}

await build({
  ...common,
  stdin: {contents: COMMANDS.map((c) => `export {default as ${capitalised(c)}} from './commands/${c}.ts'`).join('\n'), resolveDir: '.', loader: 'ts'},
  outfile: 'dist/mindbg.js',
  plugins: [builtins, shareErrors],
})
await build({...common, entryPoints: ['src/backends/docker/reaper.ts'], outfile: 'dist/reaper.js'})
await build({...common, entryPoints: ['src/backends/kubernetes/kube-reaper.ts'], outfile: 'dist/kube-reaper.js'})
await build({...common, entryPoints: ['src/cli/completion/main.ts'], outfile: 'dist/complete.js', plugins: [builtins, shareErrors]})
// `mindbg attach` without oclif (bin/run.js): the attach command's work and its flag table, not the other commands.
// As CommonJS, compiled by a facade (build/code-cache-loader.mjs, as oclif's bundle) with a V8 code cache made at
// the end of a run, which holds every function that run compiled (Node's cache of an ES module holds only what is
// compiled before it runs): ~10 ms less CPU per attach. import.meta.url is the file's own (it sits in dist/ as
// dist/mindbg.js does); dynamic imports go through the facade's import(): a script compiled by node:vm has none.
const cjs = {
  ...common,
  format: 'cjs',
  plugins: [builtins, shareErrors],
  define: {'import.meta.url': '__mindbgFileUrl'},
  banner: {js: "var __mindbgFileUrl = require('node:url').pathToFileURL(__filename).href;\nvar __mindbgImport = globalThis.__mindbgImport;"},
}
await build({...cjs, entryPoints: ['src/cli/fast-attach.ts'], outfile: 'dist/attach.cjs'})
const attachSource = readFileSync('dist/attach.cjs', 'utf8')
const dynamicImport = /(?<![\w$.])import\((?=["'])/g
if (!dynamicImport.test(attachSource)) throw new Error('build/bundle.mjs: dist/attach.cjs has no dynamic import to route through the facade')
writeFileSync('dist/attach.cjs', attachSource.replace(dynamicImport, '__mindbgImport('))
// Its first look-ups at the engine, sent before dist/attach.cjs loads (src/cli/prefetch.ts): small on purpose, and
// through the same facade (an ES module's compile cache holds only its top level: the functions a prefetch runs were
// compiled at every run, ~3-5 ms).
await build({...cjs, entryPoints: ['src/cli/prefetch.ts'], outfile: 'dist/prefetch.cjs'})
// One cache of dist/attach.cjs per runtime (bin/run.js says which the words name, src/cli/prefetch.ts): a Docker
// session compiles none of the Kubernetes code and vice versa (esbuild keeps an import()ed module's code in a function
// run on first use), so a cache made by a Docker session held none of what a Kubernetes session compiles, every time.
writeFileSync(
  'dist/attach.js',
  `${readFileSync('build/code-cache-loader.mjs', 'utf8')}
export const loadPrefetch = () => loadWithCodeCache(new URL('./prefetch.cjs', import.meta.url), ${JSON.stringify(contentHash('dist/prefetch.cjs'))})
export const loadAttach = (runtime) => loadWithCodeCache(new URL('./attach.cjs', import.meta.url), ${JSON.stringify(contentHash('dist/attach.cjs'))}, runtime ?? '')
`,
)
for (const c of COMMANDS) writeFileSync(`dist/commands/${c}.js`, `export {${capitalised(c)} as default} from '../mindbg.js'\n`)
