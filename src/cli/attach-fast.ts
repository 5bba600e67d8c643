import {formatError, toMindbgError} from '../domain/errors.js'
import {performAttach} from './attach-run.js'
import {guardStdout} from './stdout-guard.js'

/**
 * `mindbg attach --session NAME [-q] -- COMMAND...`, the repeated command of a script, without oclif: loading it and
 * the command classes costs more than the command itself in a serving debugger (src/session/serve.ts). Only that
 * exact shape is taken (the flags --session/-q/--quiet before "--", a command after it); anything else, undefined:
 * bin/run.js hands it to oclif as before. What runs is the command's own performAttach, with its validation, audit
 * record and exit code; errors are printed as src/cli/main.ts prints them.
 */
export function fastAttachWords(argv: string[]): {session: string; quiet: boolean; command: string[]} | undefined {
  if (argv[0] !== 'attach') return undefined
  let session: string | undefined
  let quiet = false
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i]!
    if (word === '--') {
      const command = argv.slice(i + 1)
      return session !== undefined && command.length > 0 ? {session, quiet, command} : undefined
    }
    if (word === '-q' || word === '--quiet') quiet = true
    else if (word === '--session' && i + 1 < argv.length && argv[i + 1] !== '--') session = argv[++i]
    else if (word.startsWith('--session=')) session = word.slice('--session='.length)
    else return undefined
  }
  return undefined
}

/** Runs the fast shape and exits; false (nothing done) for any other words. */
export async function attachFast(argv: string[], version: string): Promise<boolean> {
  const words = fastAttachWords(argv)
  if (!words) return false
  guardStdout()
  try {
    const {exitCode} = await performAttach({targetArg: undefined, command: words.command, flags: {session: words.session, quiet: words.quiet}, version, json: false})
    process.exitCode = exitCode
  } catch (error) {
    const mindbgError = toMindbgError(error)
    process.stderr.write(formatError(mindbgError, Boolean(process.env.DEBUG)))
    process.exit(mindbgError.exitCode)
  }
  return true
}
