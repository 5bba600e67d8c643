/**
 * Every failure mindbg reports on purpose is a MindbgError: a one-line message, a one-line hint and an exit code
 * from the documented table below. Anything else is a bug and is reported as an internal error (exit 125).
 * Foreign errors are translated by the backend that knows what they mean (src/backends/<runtime>/errors.ts); the generic
 * rest (oclif's parser, bugs) in `toMindbgError`.
 */

/** Documented in README.md ("Exit codes"). The debugged command's own exit code passes through unchanged. */
export const ExitCode = {
  /** Bad flags or arguments: unknown flag, bad value, conflicting flags. */
  usage: 2,
  /** No container matches the target reference. */
  targetNotFound: 112,
  /** An ID prefix matches more than one container. */
  targetAmbiguous: 113,
  /** The target exists but cannot be debugged now: not running, paused, restarting, or itself a mindbg sidecar. */
  targetNotDebuggable: 114,
  /** The container engine cannot be reached. */
  engineUnreachable: 115,
  /** The engine refused us: permission denied on its socket. */
  permissionDenied: 116,
  /** The debug image is missing and may not be pulled, or the pull failed. */
  imageUnavailable: 117,
  /** The target stopped or disappeared while the session was running. */
  targetStopped: 118,
  /** The engine rejected the sidecar (create or start failed). */
  sidecarFailed: 119,
  /** The debugger was killed from outside mindbg (docker kill, docker rm -f) while the session ran: 128 + SIGKILL. */
  debuggerKilled: 137,
  /** A session named with --session does not exist or is not a running mindbg sidecar. */
  sessionNotFound: 120,
  /** `run`: the run ended, but a step failed or timed out, or a target could not be run. */
  runIncomplete: 121,
  /** `cp`: the path does not exist in the target's filesystem. */
  pathNotFound: 122,
  /** The command given after -- cannot be executed in the debug image (as docker run reports it). */
  commandNotExecutable: 126,
  /** The command given after -- does not exist in the debug image. */
  commandNotFound: 127,
  /** Unexpected failure: a bug, please report it. */
  internal: 125,
} as const

export type ExitCodeName = keyof typeof ExitCode

export class MindbgError extends Error {
  override readonly name = 'MindbgError'
  readonly exitCode: number
  readonly hint: string | undefined

  constructor(kind: ExitCodeName, message: string, hint?: string, options?: {cause?: unknown}) {
    super(message, options)
    this.exitCode = ExitCode[kind]
    this.hint = hint
  }
}

/**
 * A stop (Ctrl-C, SIGTERM, SIGHUP) that came before the command had made anything: it ends quietly with the stop's
 * exit code (130, 143, 129), nothing to clean up (src/cli/guard.ts).
 */
export class StoppedBeforeStart extends Error {
  override readonly name = 'StoppedBeforeStart'
  constructor(readonly exitCode: number) {
    super('stopped before anything was made')
  }
}

export function usageError(message: string, hint?: string): MindbgError {
  return new MindbgError('usage', message, hint)
}

/**
 * The generic translation: knows no runtime. Each backend translates its own foreign errors (sockets, HTTP answers)
 * where it knows what they mean; what reaches this point unexplained is a usage error from oclif's parser or a bug.
 */
export function toMindbgError(error: unknown): MindbgError {
  if (error instanceof MindbgError) return error
  const err = (error ?? {}) as Error & {oclif?: {exit?: unknown}}
  // oclif parser errors (unknown flag, bad option value, missing argument) carry exit code 2.
  if (err.oclif && err.oclif.exit === 2) {
    return new MindbgError('usage', firstLine(err.message), 'Run "mindbg <command> --help" for the accepted flags.', {cause: error})
  }
  const message = err instanceof Error ? err.message : String(error)
  return new MindbgError('internal', firstLine(message) || 'unexpected error', 'This is a bug in mindbg; rerun with --debug and report the output.', {
    cause: error,
  })
}

export function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim().length > 0)?.trim() ?? ''
}

/** What the user sees: "mindbg: <message>" and, if known, "Hint: <hint>". Stack traces only with --debug / DEBUG. */
export function formatError(error: MindbgError, withStack: boolean): string {
  const lines = [`mindbg: ${error.message}`]
  if (error.hint) lines.push(`Hint: ${error.hint}`)
  if (withStack) {
    const cause = error.cause instanceof Error ? error.cause : error
    if (cause.stack) lines.push(cause.stack)
  }
  return lines.join('\n') + '\n'
}
