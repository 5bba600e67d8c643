// mindbg's commands, with the session core and both backends, as one ES module, dist/mindbg.js: as ~60 separate
// modules they cost ~15 ms more at every attach (resolution and linking per file, even from the compile cache).
// Modules reached through import() (a backend) are still evaluated on first use only. Left out, and loaded as
// before: the heavy libraries ("#oclif", "#dockerode", "#k8s", ws, yaml, ora: build/vendor.mjs, through
// src/deps.ts), and src/domain/errors.ts, which src/cli/main.ts (what `--help` and `--version` load, without the
// bundle) shares with the commands: one MindbgError class, or `instanceof` would fail across the two.
// dist/commands/*.js re-export their command from the bundle, for oclif; the reaper, a process of its own, is
// bundled alone into dist/reaper.js, where the bundled watchdog looks for it (./reaper.js next to itself). Shell
// completion (mindbg __complete, kubectl_complete-mindbg) is dist/complete.js: no oclif, no command classes; so is
// dist/attach-fast.js, a repeated command into a live debugger.
import {readdirSync, writeFileSync} from 'node:fs'
import {resolve} from 'node:path'

import {build} from 'esbuild'

// Every file of commands/ is a command: none can be left out of the bundle.
const COMMANDS = readdirSync('commands').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort()
const SHARED = resolve('src/domain/errors.ts')
const common = {bundle: true, platform: 'node', target: 'node22', format: 'esm', logLevel: 'warning', packages: 'external', external: ['#oclif', '#dockerode', '#k8s', '#js-yaml', '#ws', '#yaml']}
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
  plugins: [shareErrors],
})
await build({...common, entryPoints: ['src/backends/docker/reaper.ts'], outfile: 'dist/reaper.js'})
await build({...common, entryPoints: ['src/backends/kubernetes/kube-reaper.ts'], outfile: 'dist/kube-reaper.js'})
await build({...common, entryPoints: ['src/cli/completion/main.ts'], outfile: 'dist/complete.js', plugins: [shareErrors]})
// `attach --session S -- COMMAND` (src/cli/attach-fast.ts): the session core and backends without oclif.
await build({...common, entryPoints: ['src/cli/attach-fast.ts'], outfile: 'dist/attach-fast.js', plugins: [shareErrors]})
for (const c of COMMANDS) writeFileSync(`dist/commands/${c}.js`, `export {${capitalised(c)} as default} from '../mindbg.js'\n`)
