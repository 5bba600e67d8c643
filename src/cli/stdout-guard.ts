import {formatError, MindbgError} from '../domain/errors.js'

const EPIPE_EXIT = 141

/**
 * `mindbg ls | head`: a closed stdout ends mindbg quietly with 141, as SIGPIPE ends other tools (oclif would
 * otherwise wait for a 'drain' that never comes). A running session listens too and does it itself, after ending
 * its debugger. Any other failure to write is an error of its own (a sidecar left behind is the watchdog's).
 */
export function guardStdout(): void {
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
}
