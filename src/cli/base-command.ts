import {Command} from '#oclif'

import {toMindbgError} from '../domain/errors.js'
import {GLOBAL_FLAGS} from './flag-table.js'
import {oclifFlags} from './oclif-flags.js'

/** Flags and error reporting every mindbg command shares. */
export abstract class MindbgCommand extends Command {
  static override baseFlags = oclifFlags(GLOBAL_FLAGS)

  /** With --json, errors are data too: one JSON object on stdout, same exit code as the text form. */
  protected override async catch(error: Error & {exitCode?: number}): Promise<unknown> {
    if (!this.jsonEnabled() || (error as {code?: string}).code === 'EEXIT') throw error
    const e = toMindbgError(error)
    this.logJson({error: {message: e.message, hint: e.hint ?? null, exitCode: e.exitCode}})
    return this.exit(e.exitCode)
  }
}
