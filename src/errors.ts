/**
 * Every failure mindbg reports on purpose is a MindbgError: a one-line message, a one-line hint and an exit code
 * from the documented table below. Anything else is a bug and is reported as an internal error (exit 125).
 * Generic foreign errors (sockets, oclif's parser, engine HTTP errors) are translated in `toMindbgError`; the
 * places that know more (a failed create or start, a Kubernetes Status) translate theirs where that knowledge is.
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
  /** A session named with --session does not exist or is not a running mindbg sidecar. */
  sessionNotFound: 120,
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

export function usageError(message: string, hint?: string): MindbgError {
  return new MindbgError('usage', message, hint)
}

interface ErrnoLike {
  code?: unknown
  errno?: unknown
  statusCode?: unknown
  address?: unknown
  json?: unknown
  reason?: unknown
  oclif?: {exit?: unknown}
}

function engineAddress(): string {
  return process.env.DOCKER_HOST || 'unix:///var/run/docker.sock'
}

/** Maps any thrown value to a MindbgError; the single place where foreign errors get their message, hint and code. */
export function toMindbgError(error: unknown): MindbgError {
  if (error instanceof MindbgError) return error
  const err = (error ?? {}) as ErrnoLike & Error
  const code = typeof err.code === 'string' ? err.code : undefined

  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT' || code === 'ENOTFOUND') {
    return new MindbgError(
      'engineUnreachable',
      `cannot reach the Docker engine at ${engineAddress()} (${code})`,
      'Start the Docker daemon, or point DOCKER_HOST at a running engine (e.g. unix:///run/podman/podman.sock).',
      {cause: error},
    )
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new MindbgError(
      'permissionDenied',
      `permission denied while connecting to the Docker engine at ${engineAddress()}`,
      'Add your user to the "docker" group (then log in again), or run mindbg with sudo.',
      {cause: error},
    )
  }
  // oclif parser errors (unknown flag, bad option value, missing argument) carry exit code 2.
  if (err.oclif && err.oclif.exit === 2) {
    return new MindbgError('usage', firstLine(err.message), 'Run "mindbg <command> --help" for the accepted flags.', {cause: error})
  }
  if (typeof err.statusCode === 'number') {
    return new MindbgError('internal', `the Docker engine answered ${err.statusCode}: ${engineMessage(err)}`, 'Rerun with --debug to see the full request and answer.', {cause: error})
  }
  const message = err instanceof Error ? err.message : String(error)
  return new MindbgError('internal', firstLine(message) || 'unexpected error', 'This is a bug in mindbg; rerun with --debug and report the output.', {
    cause: error,
  })
}

/** The engine's own message out of a docker-modem error, without the HTTP noise. */
export function engineMessage(err: unknown): string {
  const e = err as ErrnoLike & Error
  const json = e.json as {message?: unknown} | string | undefined
  if (json && typeof json === 'object' && typeof json.message === 'string') return json.message
  if (typeof json === 'string' && json.trim()) return json.trim()
  // Streamed calls (pull) carry the daemon's text only inside the message: "(HTTP code N) reason - text".
  const modem = /^\(HTTP code \d+\) .*? - (.+)$/s.exec(e.message ?? '')
  if (modem?.[1]?.trim()) return firstLine(modem[1])
  if (typeof e.reason === 'string') return e.reason
  return firstLine(e.message ?? String(err))
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
