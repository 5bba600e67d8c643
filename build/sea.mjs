// Builds mindbg as one executable file per CPU, dist/sea/mindbg-linux-{x64,arm64}, for machines without Node (a
// bastion host): Node's single executable applications. Run after `npm run build` (`npm run build:sea` does both).
//
// 1. One CommonJS bundle, dist/sea/mindbg.cjs (Node 24 runs CommonJS only as an executable's main script, and
//    `require` there reaches only Node's built-in modules): src/cli/single-executable.ts with every command, the
//    vendored libraries (made again into dist/sea/vendor with the modules dist/vendor's leave to node_modules: ssh2,
//    openid-client...), ws, yaml and ora. What src/ imports with import() (a backend, dockerode,
//    the Kubernetes client, ora) is still evaluated on first use only: esbuild keeps those modules lazy in one file.
// 2. For each CPU, the preparation blob, made by that CPU's own Node (node-linux-<arch>@NODE_VERSION from the npm
//    registry, into .sea-tools/; the other CPU's under qemu-user): the bundle, V8's code cache for it (specific to
//    the V8 version and the CPU, hence the native Node or qemu), and the assets, files mindbg reads at run time:
//    dist/init/mindbg-init-{amd64,arm64}, copied into debuggers (src/backends/sea.ts reads them).
// 3. The blob is injected into a copy of that Node binary (postject), which is then run once (`--version`, `--help`)
//    before it is kept. The executable is its own Docker reaper: see src/cli/single-executable.ts.
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {arch as hostArch} from 'node:os'
import {resolve} from 'node:path'
import {createRequire} from 'node:module'

import {build} from 'esbuild'

const NODE_VERSION = '24.21.0'
const OUT = 'dist/sea'
const TOOLS = '.sea-tools'
// The fuse Node looks for to know it carries a blob (documented with single executable applications).
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'
const CPUS = [
  {arch: 'x64', gnu: 'x86_64-linux-gnu', qemu: ['qemu-x86_64-static', '-L', '/usr/x86_64-linux-gnu']},
  {arch: 'arm64', gnu: 'aarch64-linux-gnu', qemu: ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu']},
]
const COMMANDS = readdirSync('commands').filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3)).sort()
const started = Date.now()

const fail = (message) => {
  console.error(`build/sea.mjs: ${message}`)
  process.exit(1)
}
if (!existsSync('dist/init')) fail('run `npm run build` first (dist/init is missing)')
const INITS = readdirSync('dist/init').filter((f) => f.startsWith('mindbg-init-'))

/** Runs a command with its output kept, shown only if it fails (postject and LIEF are chatty). */
function quietly(command, args) {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', (error) => fail(`${[command, ...args].join(' ')}: ${error.message}`))
    child.on('close', (status) => {
      if (status !== 0) fail(`${[command, ...args].join(' ')} failed (exit ${status}):\n${stdout}${stderr}`)
      resolveRun(stdout)
    })
  })
}
const found = (command) => spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0

/**
 * node-linux-<arch>@NODE_VERSION for every CPU, in .sea-tools: installed together, in one npm call (two installs
 * into one prefix would each remove what the other put there), --force because npm refuses another CPU's package.
 */
async function nodeBinaries(cpus) {
  const path = (arch, file) => resolve(TOOLS, `node_modules/node-linux-${arch}`, file)
  const installed = (arch) => existsSync(path(arch, 'bin/node')) && JSON.parse(readFileSync(path(arch, 'package.json'), 'utf8')).version === NODE_VERSION
  if (!cpus.every((cpu) => installed(cpu.arch))) {
    const packages = cpus.map((cpu) => `node-linux-${cpu.arch}@${NODE_VERSION}`)
    console.error(`build/sea.mjs: installing ${packages.join(', ')} into ${TOOLS}/`)
    await quietly('npm', ['install', '--prefix', TOOLS, '--no-save', '--no-audit', '--no-fund', '--force', ...packages])
  }
  return Object.fromEntries(cpus.map((cpu) => {
    chmodSync(path(cpu.arch, 'bin/node'), 0o755)
    return [cpu.arch, path(cpu.arch, 'bin/node')]
  }))
}

/**
 * How to run a program built for `cpu` here: directly, or under qemu-user with that CPU's libraries; undefined when
 * it cannot be (that CPU is then left out, but not in CI: the tests run both).
 */
function runnerFor(cpu) {
  if (cpu.arch === hostArch()) return []
  const [qemu, , sysroot] = cpu.qemu
  if (found(qemu) && existsSync(sysroot)) return cpu.qemu
  const problem = `cannot run ${cpu.arch} programs here: ${qemu} and ${sysroot} are needed (scripts/provision.sh installs them)`
  if (process.env.CI === 'true') fail(problem)
  console.error(`build/sea.mjs: ${problem}; no executable for ${cpu.arch}`)
  return undefined
}
const BUILDABLE = CPUS.map((cpu) => ({...cpu, runner: runnerFor(cpu)})).filter((cpu) => cpu.runner)

// The package as oclif would read it from package.json, with the commands found in the bundle instead of a folder.
const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
const pjson = {...pkg, oclif: {...pkg.oclif, commands: {strategy: 'explicit', target: 'bundled', identifier: 'COMMANDS'}}}
// Every file of commands/ is a command, as for build/bundle.mjs; its ID is the file's name.
const entry = [
  "import {runSingleExecutable} from './src/cli/single-executable.ts'",
  'const commands = async () => Object.fromEntries(await Promise.all([',
  ...COMMANDS.map((c) => `  import('./commands/${c}.ts').then((m) => [${JSON.stringify(c)}, m.default]),`),
  ']))',
  `runSingleExecutable({pjson: ${JSON.stringify(pjson)}, commands, manifest: ${readFileSync('oclif.manifest.json', 'utf8').trim()}}).catch((error) => {`,
  "  process.stderr.write(`mindbg: ${error?.stack ?? error}\\n`)",
  '  process.exit(1)',
  '})',
].join('\n')

// The vendored libraries again, with what dist/vendor's leave to node_modules bundled in (build/vendor.mjs).
mkdirSync(OUT, {recursive: true})
await quietly(process.execPath, ['build/vendor.mjs', '--self-contained', `${OUT}/vendor`])
const VENDORED = {'#oclif': 'oclif-core.cjs', '#dockerode': 'dockerode.cjs', '#k8s': 'k8s-client.cjs', '#js-yaml': 'js-yaml.cjs', '#ws': 'ws.cjs', '#yaml': 'yaml.cjs'}
const selfContainedVendor = {
  name: 'self-contained-vendor',
  setup(b) {
    b.onResolve({filter: /^#(oclif|dockerode|k8s|js-yaml|ws|yaml)$/}, (a) => ({path: resolve(OUT, 'vendor', VENDORED[a.path])}))
  },
}
const bundle = `${OUT}/mindbg.cjs`
await build({
  stdin: {contents: entry, resolveDir: '.', loader: 'ts'},
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  logLevel: 'warning',
  // As in dist/vendor/oclif-core.cjs: oclif loads these for TypeScript sources in development only. Native addons:
  // see nativeAddonsLeftOut in build/vendor.mjs.
  external: ['typescript', 'ts-node', 'tsx', '*.node'],
  // A library's own code, bundled as it is (ssh2's `!x instanceof Array`).
  logOverride: {'suspicious-boolean-not': 'silent'},
  plugins: [selfContainedVendor],
  // `import.meta.url` in a CommonJS bundle: the executable itself (createRequire needs a file URL).
  banner: {js: 'var __mindbg_import_meta_url = require("node:url").pathToFileURL(__filename).href;'},
  define: {'import.meta.url': '__mindbg_import_meta_url'},
})

// With the names of their content-addressed copies (dist/init/by-hash/), under which the executable writes them out
// for a local engine to bind-mount (src/backends/init.ts, initHostPath).
const byHash = Object.fromEntries(readdirSync('dist/init/by-hash').map((f) => [/^mindbg-init-(\w+)-/.exec(f)?.[1], f]))
writeFileSync('dist/init/names.json', JSON.stringify(byHash))
const assets = {...Object.fromEntries(INITS.map((f) => [f, resolve('dist/init', f)])), 'init-names.json': resolve('dist/init/names.json')}
// postject is a devDependency.
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js')

/** dist/sea/mindbg-linux-<arch>, renamed into place once it ran. The two CPUs are built at the same time. */
async function executableFor({runner, ...cpu}, node) {
  const run = (program, args) => quietly(runner[0] ?? program, [...runner.slice(1), ...(runner.length ? [program] : []), ...args])
  const blob = resolve(OUT, `mindbg-linux-${cpu.arch}.blob`)
  const config = resolve(OUT, `sea-config-${cpu.arch}.json`)
  writeFileSync(config, JSON.stringify({main: resolve(bundle), output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets}, null, 2))
  await run(node, ['--experimental-sea-config', config])
  const executable = resolve(OUT, `mindbg-linux-${cpu.arch}`)
  const partial = `${executable}.partial`
  rmSync(partial, {force: true})
  copyFileSync(node, partial)
  // Symbols and debug information are a sixth of Node's binary and nothing the executable uses.
  const strip = `${cpu.gnu}-strip`
  if (found(strip)) await quietly(strip, [partial])
  else console.error(`build/sea.mjs: no ${strip} (binutils): ${executable} keeps its symbols`)
  await quietly(process.execPath, [postject, partial, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', FUSE])
  chmodSync(partial, 0o755)
  rmSync(blob)
  rmSync(config)
  // Kept only if it runs: its version line, and help that lists the commands (found through the bundled map; hidden
  // ones are not listed).
  const version = await run(partial, ['--version'])
  if (version !== `${pkg.name}/${pkg.version} linux-${cpu.arch} node-v${NODE_VERSION}\n`) fail(`${partial} --version printed ${JSON.stringify(version)}`)
  const help = await run(partial, ['--help'])
  if (!/^ {2}attach /m.test(help)) fail(`${partial} --help lists no attach command:\n${help}`)
  renameSync(partial, executable)
  console.error(`build/sea.mjs: ${executable} (${(statSync(executable).size / 2 ** 20).toFixed(0)} MiB)`)
}
const nodes = await nodeBinaries(BUILDABLE)
await Promise.all(BUILDABLE.map((cpu) => executableFor(cpu, nodes[cpu.arch])))
console.error(`build/sea.mjs: done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
