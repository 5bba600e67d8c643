import {enterRawMode, type TerminalSize, terminalSize} from './tty.js'

/** Exit codes for a session ended from outside (128 + signal number, as shells report them). */
export const SIGNAL_EXIT: Record<string, number> = {SIGHUP: 129, SIGINT: 130, SIGTERM: 143}
export const EPIPE_EXIT = 141

let liveSessions = 0
/** Whether a session is handling a closed stdout itself (it must remove its sidecar before exiting). */
export const sessionHandlesClosedStdout = (): boolean => liveSessions > 0

export interface ControlledStreams {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
}

export interface SessionControls {
  /** Puts the terminal back; idempotent, also run by dispose() and at process exit. */
  restoreTerminal(): void
  /** Removes every listener this session added and lets go of stdin. */
  dispose(): void
}

/**
 * What every interactive or streamed session needs around its own stream, in one place for the Docker and the
 * Kubernetes paths: signals and a closed stdout end the session with the conventional exit code; a terminal is
 * raw only when we also read it (otherwise Ctrl-C could not reach anyone), follows every resize, and is restored
 * on every path.
 */
export function sessionControls(
  io: ControlledStreams,
  mode: {tty: boolean; stdin: boolean},
  hooks: {onEnd: (exitCode: number) => void; onResize?: (size: TerminalSize) => void},
): SessionControls {
  const onSignal = (signal: NodeJS.Signals): void => hooks.onEnd(SIGNAL_EXIT[signal] ?? 1)
  const onStdoutError = (error: NodeJS.ErrnoException): void => {
    if (error.code === 'EPIPE') hooks.onEnd(EPIPE_EXIT)
  }
  for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal)
  io.stdout.on('error', onStdoutError)
  liveSessions++

  const restoreTerminal = mode.tty && mode.stdin ? enterRawMode(io.stdin) : () => {}
  const resize = (): void => {
    const size = terminalSize(io.stdout)
    if (size) hooks.onResize?.(size)
  }
  if (mode.tty && hooks.onResize) io.stdout.on('resize', resize)

  let disposed = false
  return {
    restoreTerminal,
    dispose() {
      if (disposed) return
      disposed = true
      liveSessions--
      restoreTerminal()
      for (const signal of Object.keys(SIGNAL_EXIT)) process.removeListener(signal, onSignal)
      io.stdout.removeListener('error', onStdoutError)
      io.stdout.removeListener('resize', resize)
      if (!mode.stdin) return
      io.stdin.removeAllListeners('data')
      io.stdin.removeAllListeners('end')
      io.stdin.pause()
      // A TTY or pipe we read from keeps the event loop alive: let go of it.
      ;(io.stdin as unknown as {unref?: () => void}).unref?.()
    },
  }
}

/** Sends the current terminal size now (the session's first size). */
export function initialSize(io: ControlledStreams): TerminalSize | undefined {
  return terminalSize(io.stdout)
}
