import {readFileSync} from 'node:fs'

import {runAttach} from './attach-command.js'
import {fastParse} from './fast-parse.js'
import {ATTACH_FLAGS, GLOBAL_FLAGS} from './flag-table.js'
import {exitRequest, guarded} from './guard.js'

const FLAGS = {...ATTACH_FLAGS, ...GLOBAL_FLAGS}

/**
 * `mindbg attach ...` without oclif, for the argv that fastParse reads exactly as oclif would (bin/run.js; oclif,
 * its config, its plugin and command discovery cost ~30 ms before the first request). False, having done nothing:
 * oclif's to run (help, --json, anything unusual), and also with oclif's own debugging on (DEBUG, MINDBG_DEBUG),
 * which prints what oclif does; MINDBG_FAST_ATTACH=0 asks for oclif (test/e2e/startup.test.ts compares the two).
 */
export async function attachFast(argv: string[], root: URL): Promise<boolean> {
  if (process.env.DEBUG || process.env.MINDBG_DEBUG || process.env.MINDBG_FAST_ATTACH === '0') return false
  const parsed = fastParse(FLAGS, argv)
  if (parsed === undefined) return false
  const {version} = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {version: string}
  const host = {version, log: (text: string) => void process.stdout.write(`${text}\n`), exit: exitRequest, jsonEnabled: () => false}
  await guarded(['attach', ...argv], async () => {
    await runAttach({target: parsed.target, argv: parsed.argv, raw: argv, flags: parsed.flags}, host)
  })
  return true
}
