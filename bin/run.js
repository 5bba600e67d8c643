#!/usr/bin/env -S node --
// "--": node must not read the user's flags as its own (`mindbg attach --env-file F` is not node --env-file).
// Start-up matters (an SRE types this at 3 a.m.): cache compiled code across runs, and answer --version and the root
// --help without loading oclif at all (~80 ms, ~70 ms). The output is the same as oclif's: the same user agent string;
// the help oclif rendered at build time (build/help.mjs), printed only where oclif would render it the same way.
// One static import only, the Node version check: the others are loaded before anything runs, even for --version
// (~3 ms of CPU of its ~60).
import './node-check.js'

const {readFileSync} = process.getBuiltinModule('node:fs')
const argv = process.argv.slice(2)
// Node's compile cache only for what compiles mindbg's code (its set-up is wasted on the two answers below).
const enableCompileCache = () => process.getBuiltinModule('node:module').enableCompileCache?.()
const userAgent = () => {
  const {name, version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  return `${name}/${version} ${process.platform}-${process.arch} node-${process.version}`
}
// oclif's help looks different on a terminal (its width, bold headings), with FORCE_COLOR or OCLIF_COLUMNS (and the
// two runtimes its colour detection knows); anywhere else it is the text rendered at build time.
const renderedHelp = () => {
  const env = process.env
  if (process.stdout.isTTY || env.MINDBG_HELP_CACHE === '0' || 'FORCE_COLOR' in env || env.OCLIF_COLUMNS || env.NEXT_RUNTIME || env.pm_id) return undefined
  try {
    return readFileSync(new URL('../dist/help/root.txt', import.meta.url), 'utf8')
  } catch {
    return undefined // a build without it: oclif renders it
  }
}
// As main.js does for oclif's output: `mindbg --help | head -0` ends quietly with 141, as SIGPIPE ends other tools.
const quietOnClosedStdout = () =>
  process.stdout.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(141)
    throw error
  })
const help = argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h') ? renderedHelp() : undefined
if (argv.length === 1 && argv[0] === '--version') {
  quietOnClosedStdout()
  process.stdout.write(`${userAgent()}\n`)
} else if (help !== undefined) {
  quietOnClosedStdout()
  process.stdout.write(help.replace('\u0000user-agent\u0000', userAgent()))
} else if (argv[0] === '__complete') {
  // The shell's TAB: answered without oclif (src/cli/completion/main.ts).
  enableCompileCache()
  const {completeMain} = await import('../dist/complete.js')
  await completeMain(argv.slice(1), 'mindbg', new URL('../', import.meta.url))
} else {
  enableCompileCache()
  // `attach` in the spellings oclif would read the same way is run without oclif (~30 ms less before the first
  // request to the engine); anything else, help and errors of parsing included, is oclif's (src/cli/fast-attach.ts).
  // Its first look-ups at the engine go out before that code loads: the engine answers meanwhile (src/cli/prefetch.ts).
  // Its code cache is the one a session of the same runtime made (build/code-cache-loader.mjs). The look-ups leave
  // only when the event loop runs (a socket writes once its connect is reported): one turn before the bundle loads.
  const fast =
    argv[0] === 'attach' &&
    (await import('../dist/attach.js').then(async ({loadAttach, loadPrefetch}) => {
      const runtime = loadPrefetch().prefetchAttach(argv.slice(1), process.env)
      await new Promise((resolve) => setImmediate(resolve))
      return loadAttach(runtime).attachFast
    }))
  if (!fast || !(await fast(argv.slice(1), new URL('../', import.meta.url)))) {
    const {main} = await import('../dist/src/cli/main.js')
    await main(argv, import.meta.url)
  }
}
