#!/usr/bin/env -S node --
// "--": node must not read the user's flags as its own (`mindbg attach --env-file F` is not node --env-file).
// Start-up matters (an SRE types this at 3 a.m.): cache compiled code across runs, and answer --version without
// loading oclif at all (~80 ms). The output is the same string oclif prints.
import {enableCompileCache} from 'node:module'
import {readFileSync} from 'node:fs'

enableCompileCache?.()
const argv = process.argv.slice(2)
if (argv.length === 1 && argv[0] === '--version') {
  const {name, version} = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))
  process.stdout.write(`${name}/${version} ${process.platform}-${process.arch} node-${process.version}\n`)
} else if (argv[0] === '__complete') {
  // The shell's TAB: answered without oclif (src/cli/completion/main.ts).
  const {completeMain} = await import('../dist/complete.js')
  await completeMain(argv.slice(1), 'mindbg', new URL('../', import.meta.url))
} else {
  const {main} = await import('../dist/src/cli/main.js')
  await main(argv, import.meta.url)
}
