import {flush, type Interfaces, run} from '#oclif'

import {formatError, toMindbgError} from '../domain/errors.js'
import type {Entry} from './plugins.js'
import {guardStdout} from './stdout-guard.js'

/**
 * Runs oclif and owns the one place where any error becomes a message, a hint and an exit code. `oclifOptions`:
 * bin/run.js's URL (oclif finds package.json from it), or what the single executable gives instead; `entry`: the
 * plugin a kubectl or docker CLI started mindbg as.
 */
export async function main(argv: string[], oclifOptions: string | Interfaces.LoadOptions, entry: Entry = 'mindbg'): Promise<void> {
  guardStdout()
  try {
    await run(entry === 'mindbg' ? argv : await asPlugin(entry, argv), oclifOptions)
    await flush()
  } catch (error) {
    const exit = (error as {oclif?: {exit?: number}; code?: string}).oclif?.exit
    // this.exit(n) inside a command: the command already said what it had to say.
    if ((error as {code?: string}).code === 'EEXIT') process.exit(exit ?? 0)
    const withStack = argv.includes('--debug') || Boolean(process.env.DEBUG)
    const mindbgError = toMindbgError(error)
    process.stderr.write(formatError(mindbgError, withStack))
    process.exit(mindbgError.exitCode)
  }
}

/** A plugin's argv as mindbg's own, its connection options put where mindbg (and its reaper) read them. */
async function asPlugin(entry: Entry, argv: string[]): Promise<string[]> {
  const {endWithDockerCli, invocation} = await import('./plugins.js')
  const plugin = invocation(entry, argv, process.env)
  if (entry === 'docker') await endWithDockerCli(process.env.DOCKER_CLI_PLUGIN_SOCKET)
  for (const [key, value] of Object.entries(plugin.env)) {
    if (value === undefined) delete process.env[key]
    else process.env[key] = value
  }
  return plugin.argv
}
