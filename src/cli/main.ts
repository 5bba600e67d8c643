import {flush, type Interfaces, run} from '#oclif'

import {formatError, MindbgError, toMindbgError} from '../domain/errors.js'
import type {Entry} from './plugins.js'

const EPIPE_EXIT = 141

/**
 * Runs oclif and owns the one place where any error becomes a message, a hint and an exit code. `oclifOptions`:
 * bin/run.js's URL (oclif finds package.json from it), or what the single executable gives instead; `entry`: the
 * plugin a kubectl or docker CLI started mindbg as.
 */
export async function main(argv: string[], oclifOptions: string | Interfaces.LoadOptions, entry: Entry = 'mindbg'): Promise<void> {
  // `mindbg ls | head`: a closed stdout ends mindbg quietly with 141, as SIGPIPE ends other tools (oclif would
  // otherwise wait for a 'drain' that never comes). A running session listens too and does it itself, after ending
  // its debugger. Any other failure to write is an error of its own (a sidecar left behind is the watchdog's).
  const onStdoutError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') {
      if (process.stdout.listenerCount('error') <= ownListeners) process.exit(EPIPE_EXIT)
      return
    }
    const failure = new MindbgError('internal', `cannot write to stdout: ${error.message}`, 'Whatever reads mindbg\'s output failed; run it again, or redirect to a file.')
    process.stderr.write(formatError(failure, false))
    process.exit(failure.exitCode)
  }
  process.stdout.on('error', onStdoutError)
  // Whatever listens beyond these is a session (or its output relay), which ends its debugger first.
  const ownListeners = process.stdout.listenerCount('error')
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
