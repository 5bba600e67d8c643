import {Command, Flags} from '#oclif'

import {toMindbgError} from '../domain/errors.js'

/** Flags and error reporting every mindbg command shares. */
export abstract class MindbgCommand extends Command {
  static override baseFlags = {
    debug: Flags.boolean({description: 'Show stack traces for errors (also with DEBUG set).', helpGroup: 'GLOBAL'}),
    quiet: Flags.boolean({char: 'q', description: 'No progress or notices on stderr; errors are still printed.', helpGroup: 'GLOBAL'}),
  }

  /** With --json, errors are data too: one JSON object on stdout, same exit code as the text form. */
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (!this.jsonEnabled() || (error as {code?: string}).code === 'EEXIT') throw error
    const e = toMindbgError(error)
    this.logJson({error: {message: e.message, hint: e.hint ?? null, exitCode: e.exitCode}})
    return this.exit(e.exitCode)
  }
}
