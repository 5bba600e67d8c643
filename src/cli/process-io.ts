import {createReadStream, fstatSync} from 'node:fs'
import type {Readable} from 'node:stream'

import type {StopRequest} from '../domain/session.js'
import type {SessionIO, SessionTerminal} from '../session/lifecycle.js'
import {enterRawMode, terminalSize} from './terminal.js'

/** Exit codes for a session ended from outside (128 + signal number, as shells report them). */
export const SIGNAL_EXIT: Record<string, number> = {SIGHUP: 129, SIGINT: 130, SIGTERM: 143}

/** The process's own streams and terminal, for a session of the CLI (and what `record` is told: attach --record). */
export function processIO(record?: SessionIO['record']): SessionIO & {release(): void} {
  const terminal: SessionTerminal | undefined = process.stdout.isTTY
    ? {
        size: () => terminalSize(process.stdout),
        onResize(listener) {
          const resized = (): void => {
            const size = terminalSize(process.stdout)
            if (size) listener(size)
          }
          process.stdout.on('resize', resized)
          return () => process.stdout.removeListener('resize', resized)
        },
        enterRaw: () => enterRawMode(process.stdin),
      }
    : undefined
  let stdin: Readable | undefined
  return {
    // Made when a session reads it: process.stdin is a stream built on first use (for /dev/null a file ReadStream,
    // ~3-5 ms before the first request), which a session without input never reads.
    get stdin() {
      return (stdin ??= fileStdin() ?? process.stdin)
    },
    stdout: process.stdout,
    stderr: process.stderr,
    terminal,
    record,
    // A TTY or pipe that was read from keeps the event loop alive: let go of it.
    release: () => (stdin as unknown as {unref?: () => void} | undefined)?.unref?.(),
  }
}

/**
 * How much of a file on stdin one read takes: process.stdin reads a file 64 kB at a time, each read a round trip
 * through libuv's thread pool and one write to the engine; 200 MB of input took ~1.3x the docker CLI's time for it.
 */
export const FILE_STDIN_CHUNK = 256 * 1024

/** stdin when it is a regular file (`< file`): read in larger chunks; undefined for a terminal, a pipe or a socket. */
function fileStdin(): Readable | undefined {
  try {
    if (!fstatSync(0).isFile()) return undefined
  } catch {
    return undefined
  }
  // fd 0 stays open (autoClose: false) as process.stdin would leave it; reads start where the file's offset is.
  return createReadStream('', {fd: 0, highWaterMark: FILE_STDIN_CHUNK, autoClose: false})
}

/**
 * The command owns the process's signals: SIGINT, SIGTERM and SIGHUP abort `controller` with the conventional exit
 * code, and every session listening to its signal ends (its debugger ended first). Returns the unsubscribe.
 */
export function stopOnSignals(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    const stop: StopRequest = {exitCode: SIGNAL_EXIT[signal] ?? 1, ending: 'stopped'}
    controller.abort(stop)
  }
  for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal)
  return () => {
    for (const signal of Object.keys(SIGNAL_EXIT)) process.removeListener(signal, onSignal)
    // Stopped by a signal, mindbg is on its way out with that signal's code: the same signal again must not kill it
    // there by default (a closed terminal's hang-up comes from the kernel, and again from whoever closed it).
    if (controller.signal.aborted) for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, () => {})
  }
}
