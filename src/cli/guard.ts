import {formatError, MindbgError, StoppedBeforeStart, toMindbgError} from '../domain/errors.js'

const EPIPE_EXIT = 141

/**
 * The one place where any error of a command becomes a message, a hint and an exit code (for oclif's commands,
 * src/cli/main.ts, and bin/run.js's fast path, src/cli/fast-attach.ts, alike).
 */
export async function guarded(argv: readonly string[], work: () => Promise<void>): Promise<void> {
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
    await work()
  } catch (error) {
    const exit = (error as {oclif?: {exit?: number}; code?: string}).oclif?.exit
    // this.exit(n) inside a command: the command already said what it had to say.
    if ((error as {code?: string}).code === 'EEXIT') process.exit(exit ?? 0)
    // Whoever stopped it knows why; as a signal's default action, it ends without a word.
    if (error instanceof StoppedBeforeStart) process.exit(error.exitCode)
    const withStack = argv.includes('--debug') || Boolean(process.env.DEBUG)
    const mindbgError = toMindbgError(error)
    process.stderr.write(formatError(mindbgError, withStack))
    process.exit(mindbgError.exitCode)
  }
}

/** What oclif's `this.exit(code)` throws, and guarded() turns into the exit code. */
export function exitRequest(code: number): never {
  throw Object.assign(new Error(`EEXIT: ${code}`), {code: 'EEXIT', oclif: {exit: code}})
}
