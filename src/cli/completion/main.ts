import {readFileSync} from 'node:fs'

import {type CommandDef, complete, type CompletionMode, Directive, formatCompletion} from './engine.js'
import {liveSources, SOURCE_BUDGET_MS} from './sources.js'

/**
 * `mindbg __complete WORDS...` and `kubectl_complete-mindbg WORDS...`: what the shell scripts (and kubectl) run at
 * every TAB. Kept apart from oclif's command machinery, which costs ~70 ms before a command even starts: the
 * commands and flags come from oclif.manifest.json, which `oclif manifest` writes at build time from the command
 * classes, and which oclif itself reads at start-up. Nothing is ever
 * printed on stderr (it would land in the user's line) unless MINDBG_COMPLETE_DEBUG is set; the exit code is 0.
 */
export async function completeMain(words: string[], mode: CompletionMode, packageRoot: URL | Embedded): Promise<void> {
  const debug = Boolean(process.env.MINDBG_COMPLETE_DEBUG)
  const onError = (error: unknown): void => {
    if (debug) process.stderr.write(`mindbg __complete: ${(error as Error).stack ?? String(error)}\n`)
  }
  let output: string
  try {
    const {commands, helpFlags, versionFlags} = definitions(packageRoot)
    // A slow link (a VPN, a cluster far away) may give the sources more time; the default suits a shell's TAB.
    const budget = Number(process.env.MINDBG_COMPLETE_TIMEOUT_MS) || SOURCE_BUDGET_MS
    const sources = liveSources(process.env, onError, budget)
    output = formatCompletion(await complete({words, commands, sources, mode, helpFlags, versionFlags}))
  } catch (error) {
    onError(error)
    output = formatCompletion({candidates: [], directive: Directive.error})
  }
  // Exit at once: a source given up on may still hold a socket open.
  process.stdout.write(output, () => process.exit(0))
}

interface PackageJson {
  oclif?: {additionalHelpFlags?: string[]; additionalVersionFlags?: string[]}
}

/** package.json and oclif.manifest.json as data: the single executable has them built in (build/sea.mjs). */
export interface Embedded {
  pjson: PackageJson
  manifest: {commands: Record<string, CommandDef>}
}

/** oclif.manifest.json is part of every build (npm run build) and of the package. */
function definitions(root: URL | Embedded): {commands: CommandDef[]; helpFlags: string[]; versionFlags: string[]} {
  const read = (file: string): unknown => JSON.parse(readFileSync(new URL(file, root as URL), 'utf8'))
  const pkg = root instanceof URL ? (read('package.json') as PackageJson) : root.pjson
  const manifest = root instanceof URL ? (read('oclif.manifest.json') as Embedded['manifest']) : root.manifest
  const helpFlags = ['--help', ...(pkg.oclif?.additionalHelpFlags ?? [])]
  const versionFlags = ['--version', ...(pkg.oclif?.additionalVersionFlags ?? [])]
  return {commands: Object.values(manifest.commands), helpFlags, versionFlags}
}
